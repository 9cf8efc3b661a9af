//! A real PostgreSQL for tests: a fresh cluster from Debian's `postgresql` binaries (initdb,
//! postgres) in a temporary directory, listening on 127.0.0.1 on a free port, stopped by its
//! pid. PostgreSQL refuses to run as root, so under root it runs as the `postgres` user.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zkinfer_serve::store::StoreConfig;

/// A running server; stopped when dropped.
pub struct Pg {
    child: Child,
    data: PathBuf,
    /// `postgres://` URL of its `postgres` database.
    pub url: String,
    _dir: tempfile::TempDir,
}

fn bin(name: &str) -> PathBuf {
    let found = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|v| v.path().join("bin").join(name))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| PathBuf::from(name))
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args`, as the `postgres` user when we are root.
fn command(program: &Path) -> Command {
    if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pg {
    pub fn start() -> Pg {
        let dir = tempfile::tempdir().unwrap();
        if as_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(
                ok.success(),
                "chown to postgres (is Debian's postgresql installed?)"
            );
        }
        let data = dir.path().join("data");
        let init = command(&bin("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "zkinfer", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("initdb runs (apt-get install postgresql)");
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let port = free_port();
        let child = command(&bin("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(dir.path())
            .args(["-c", "fsync=off", "-c", "max_connections=200"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        let url = format!("postgres://zkinfer@127.0.0.1:{port}/postgres");
        let start = Instant::now();
        let store = StoreConfig::Postgres(url.clone());
        while let Err(e) = store.open() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "postgres did not come up: {e}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Pg {
            child,
            data,
            url,
            _dir: dir,
        }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // SIGINT to the postmaster (not to runuser, which does not pass it on): PostgreSQL's
        // fast shutdown, which also ends its backends.
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
            .unwrap_or_else(|| self.child.id().to_string());
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let _ = self.child.wait();
    }
}
