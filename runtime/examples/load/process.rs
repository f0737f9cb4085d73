//! The runtime under test as its own process: `seam run` of the release binary on a temporary
//! SQLite file, so its CPU and memory are its own and its peak RSS (`VmHWM`) can be read.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

pub struct RuntimeProcess {
    child: Child,
    pub url: String,
    /// The last lines it wrote on stderr (for a failure's explanation).
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl RuntimeProcess {
    /// Starts `seam run SPEC` on a free port of 127.0.0.1 and waits until it listens.
    pub fn start(
        seam: &Path,
        spec: &Path,
        state: &Path,
        env: &HashMap<String, String>,
        workers: Option<usize>,
    ) -> Result<RuntimeProcess, String> {
        let mut cmd = Command::new(seam);
        cmd.arg("run")
            .arg(spec)
            .arg("--state")
            .arg(format!("sqlite://{}", state.display()))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .envs(env)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(w) = workers {
            cmd.arg("--workers").arg(w.to_string());
        }
        let mut child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start `{}`: {e}; build it with `cargo build --release --bin seam` or set SEAM_BIN",
                seam.display()
            )
        })?;
        let stderr = child
            .stderr
            .take()
            .ok_or("the runtime's stderr is not piped")?;
        let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let (tx, rx) = mpsc::channel();
        let t = tail.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split(" listening on ").nth(1) {
                    let _ = tx.send(url.split_whitespace().next().unwrap_or("").to_string());
                }
                let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
                if t.len() >= 20 {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let said = tail
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n");
                return Err(format!(
                    "the runtime did not start listening in 30 s:\n{said}"
                ));
            }
        };
        Ok(RuntimeProcess { child, url, tail })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory so far (`VmHWM`), in MiB.
    pub fn peak_rss_mib(&self) -> Result<f64, String> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .ok_or_else(|| format!("no VmHWM in {path}"))
    }

    /// Its `seam_inbox_depth` (pending and claimed events) from `/metrics`.
    pub async fn inbox_depth(&self, http: &reqwest::Client) -> Result<u64, String> {
        let text = http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .map_err(|e| format!("GET /metrics: {e}"))?
            .text()
            .await
            .map_err(|e| format!("GET /metrics: {e}"))?;
        text.lines()
            .find_map(|l| l.strip_prefix("seam_inbox_depth "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .ok_or_else(|| "no seam_inbox_depth in /metrics".to_string())
    }

    /// Ctrl-C (the runtime finishes in-flight events), then waits for it to exit.
    pub fn stop(mut self) -> Result<(), String> {
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status();
        if !sent.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(format!(
            "the runtime did not stop within 10 s of Ctrl-C; killed. Last output:\n{}",
            self.tail
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        ))
    }
}
