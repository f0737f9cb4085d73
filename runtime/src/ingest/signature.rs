//! Webhook signatures: `X-Seam-Timestamp: <unix seconds>` and
//! `X-Seam-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, compared in
//! constant time (`hmac`'s `verify_slice`), within a 5-minute window either side of now so a
//! captured request cannot be replayed later. Errors say what is wrong, never the secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "x-seam-timestamp";
pub const SIGNATURE_HEADER: &str = "x-seam-signature";
/// How far a timestamp may be from now, in seconds.
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// Checks one request's signature. `now` is unix seconds.
pub fn check(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    let timestamp = timestamp.ok_or("no X-Seam-Timestamp header")?;
    let signature = signature.ok_or("no X-Seam-Signature header")?;
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| "X-Seam-Timestamp is not unix seconds")?;
    if (now - ts).abs() > REPLAY_WINDOW_SECS {
        return Err("X-Seam-Timestamp is outside the 5-minute window");
    }
    let hex_sig = signature
        .trim()
        .strip_prefix("v1=")
        .ok_or("X-Seam-Signature is not `v1=<hex>`")?;
    let given = hex::decode(hex_sig).map_err(|_| "X-Seam-Signature is not hex")?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| "unusable secret")?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| "the signature does not match")
}

/// Signs a body (for tests and for relays that forward events).
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(timestamp.as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_good_signature_and_rejects_the_rest() {
        let sig = sign("s3cret", "1000", b"{}");
        assert_eq!(
            check("s3cret", Some("1000"), Some(&sig), b"{}", 1000),
            Ok(())
        );
        assert!(check("other", Some("1000"), Some(&sig), b"{}", 1000).is_err());
        assert!(check("s3cret", Some("1000"), Some(&sig), b"{ }", 1000).is_err());
        assert_eq!(
            check("s3cret", Some("1000"), Some(&sig), b"{}", 1000 + 301),
            Err("X-Seam-Timestamp is outside the 5-minute window")
        );
        assert!(check("s3cret", None, Some(&sig), b"{}", 1000).is_err());
        assert!(check("s3cret", Some("1000"), Some("v1=zz"), b"{}", 1000).is_err());
    }
}
