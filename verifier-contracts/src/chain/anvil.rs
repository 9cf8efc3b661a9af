//! A local anvil node (npm `@foundry-rs/anvil-linux-amd64`, pinned in `package.json`) for tests
//! and local runs: started on 127.0.0.1 on a free port, stopped by its own pid when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::ContractsError;

pub struct Anvil {
    child: Child,
    pub url: String,
}

/// The pinned anvil binary under the JS tools directory.
pub fn binary() -> Option<PathBuf> {
    let tools = crate::solc::js_tools_dir()?;
    Some(tools.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")).filter(|p| p.is_file())
}

impl Anvil {
    /// Starts anvil with no base fee, so balances move by (almost) exactly the amounts paid.
    pub fn start() -> Result<Self, ContractsError> {
        Self::start_with(None, None)
    }

    /// Starts anvil on `port` (default: a free one), keeping its chain in `state` if given:
    /// loaded at start when the file exists, written when the node is stopped, so a node
    /// stopped and started again on the same port and file looks to clients like one that was
    /// unreachable for a while.
    pub fn start_with(port: Option<u16>, state: Option<&Path>) -> Result<Self, ContractsError> {
        let bin = binary().ok_or_else(|| {
            ContractsError::Toolchain(format!(
                "anvil is not installed: run `{}`",
                crate::solc::INSTALL_HINT
            ))
        })?;
        let port = match port {
            Some(p) => p,
            None => TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| ContractsError::Chain(format!("no free port: {e}")))?
                .port(),
        };
        let mut cmd = Command::new(&bin);
        if let Some(state) = state {
            cmd.arg("--state").arg(state);
        }
        let mut child = cmd
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--base-fee", "0", "--gas-price", "0", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ContractsError::Chain(format!("cannot start {}: {e}", bin.display())))?;
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Self {
                    child,
                    url: format!("http://127.0.0.1:{port}"),
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(ContractsError::Chain(format!("anvil exited: {status}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        Err(ContractsError::Chain(format!(
            "anvil did not listen on port {port}"
        )))
    }
}

impl Anvil {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the URL ends with the port")
    }

    /// Stops it (SIGTERM: a node with a state file writes it first) and waits until it exited.
    pub fn stop(self) {
        drop(self)
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // Stopped by its own pid, nothing else.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
