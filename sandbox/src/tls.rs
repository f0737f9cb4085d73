//! `--tls`: a self-signed certificate for localhost / 127.0.0.1 / ::1, generated at start with
//! rcgen, served with rustls, and written as PEM to a file clients can trust.

use crate::{Error, SandboxConfig};
use axum_server::tls_rustls::RustlsConfig;
use std::path::PathBuf;

pub struct Tls {
    pub config: RustlsConfig,
    pub cert_pem: String,
    pub cert_path: PathBuf,
}

pub async fn generate(config: &SandboxConfig) -> Result<Tls, Error> {
    // Several sandboxes in one process share the provider; a second install is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !config.bind.is_unspecified() && !config.bind.is_loopback() {
        names.push(config.bind.to_string());
    }
    let cert = rcgen::generate_simple_self_signed(names).map_err(|e| Error::Tls(e.to_string()))?;
    let cert_pem = cert.cert.pem();
    let key_pem = cert.key_pair.serialize_pem();
    let cert_path = match (&config.tls_cert_path, &config.state_dir) {
        (Some(p), _) => p.clone(),
        (None, Some(d)) => d.join("sandbox-cert.pem"),
        (None, None) => {
            std::env::temp_dir().join(format!("seam-sandbox-cert-{}.pem", std::process::id()))
        }
    };
    std::fs::write(&cert_path, &cert_pem)
        .map_err(|e| Error::Tls(format!("{}: {e}", cert_path.display())))?;
    let rustls = RustlsConfig::from_pem(cert_pem.clone().into_bytes(), key_pem.into_bytes())
        .await
        .map_err(|e| Error::Tls(e.to_string()))?;
    Ok(Tls {
        config: rustls,
        cert_pem,
        cert_path,
    })
}
