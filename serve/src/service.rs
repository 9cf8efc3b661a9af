//! Putting the service together: load the models, open the store, start the follower and the
//! workers on their own threads and the HTTP API on a small async runtime, and stop them all on
//! a signal.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::api::{router, Api};
use crate::chain::ChainAccess;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::models::ServedModel;
use crate::store::StoreConfig;
use crate::worker::Worker;
use crate::ServeError;

/// How to run: the whole service, or only workers on a shared store.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Listen here instead of the configuration's address.
    pub listen: Option<String>,
    /// Run only proving workers (no API, no follower): another server in front shares the
    /// PostgreSQL store and takes the openings.
    pub workers_only: bool,
}

/// A started service.
pub struct Service {
    /// Where the API listens (none for workers only).
    pub addr: Option<SocketAddr>,
    /// Held while serving a SQLite file: it belongs to one server at a time.
    _store_lock: Option<std::fs::File>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    runtime: tokio::runtime::Runtime,
    server: Option<tokio::task::JoinHandle<Result<(), std::io::Error>>>,
}

impl Service {
    /// Loads everything `config` names and starts serving.
    pub fn start(config: &Config, opts: &Options) -> Result<Self, ServeError> {
        let signer = config.signer()?;
        let mut models = BTreeMap::new();
        for m in &config.models {
            tracing::info!(model = m.model_id, dir = %m.dir.display(), "loading");
            models.insert(m.model_id, ServedModel::load(m)?);
        }
        let models = Arc::new(models);
        if config.workers == 0 && matches!(config.store, StoreConfig::Sqlite(_)) {
            return Err(ServeError::Config(
                "\"workers\": 0 needs workers elsewhere, on a postgres:// store".into(),
            ));
        }
        if opts.workers_only && matches!(config.store, StoreConfig::Sqlite(_)) {
            return Err(ServeError::Config(
                "workers alone need a shared store: give a postgres:// store".into(),
            ));
        }
        if opts.workers_only && config.workers == 0 {
            return Err(ServeError::Config(
                "--workers-only with \"workers\": 0 would do nothing".into(),
            ));
        }
        let mut store = config.store.open()?;
        let store_lock = match &config.store {
            StoreConfig::Sqlite(path) => {
                let lock = lock_store(path)?;
                // Ours alone (locked): every lease in it was held by an earlier run of ours.
                let freed = store.free_leases()?;
                if freed > 0 {
                    tracing::info!("resuming {freed} jobs an earlier run left unfinished");
                }
                Some(lock)
            }
            // Shared: other servers' leases are alive; a dead one's run out by themselves.
            StoreConfig::Postgres(_) => None,
        };
        let metrics = Arc::new(Metrics::default());
        let stop = Arc::new(AtomicBool::new(false));
        let poll = Duration::from_millis(config.poll_ms);
        let chain = || ChainAccess::new(config.chain.clone(), signer.clone());
        let mut threads = Vec::new();
        if !opts.workers_only {
            let (store, mut chain, stop) = (store.reopen()?, chain(), stop.clone());
            let follow = crate::follower::Follow {
                settlement: config.settlement,
                models: models.keys().copied().collect(),
                start_block: config.start_block,
            };
            // The first read happens before the API opens, so `GET` knows the chain at once.
            let mut first = store.reopen()?;
            if let Err(e) = crate::follower::poll_once(first.as_mut(), &mut chain, &follow) {
                tracing::warn!("first read of the chain: {e}");
            }
            threads.push(spawn("follower", move || {
                crate::follower::run(store, chain, follow, poll, &stop)
            })?);
        }
        for i in 0..config.workers {
            let worker = Worker {
                name: format!("{}-{}-{i}", hostname(), std::process::id()),
                store: store.reopen()?,
                chain: chain(),
                settlement: config.settlement,
                models: models.clone(),
                lease: config.lease_seconds,
                prove_estimate: config.prove_seconds_estimate,
                poll,
                metrics: metrics.clone(),
            };
            let stop = stop.clone();
            threads.push(spawn(&format!("worker-{i}"), move || worker.run(&stop))?);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| ServeError::Http(format!("starting the runtime: {e}")))?;
        let (mut addr, mut server) = (None, None);
        if !opts.workers_only {
            let api = Arc::new(Api {
                models,
                store: Mutex::new(store),
                chain: Mutex::new(chain()),
                settlement: config.settlement,
                limits: config.limits.clone(),
                metrics,
            });
            let listen = opts.listen.as_deref().unwrap_or(&config.listen).to_string();
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind(&listen))
                .map_err(|e| ServeError::Http(format!("cannot listen on {listen}: {e}")))?;
            addr = Some(
                listener
                    .local_addr()
                    .map_err(|e| ServeError::Http(e.to_string()))?,
            );
            let stop_http = stop.clone();
            server = Some(runtime.spawn(async move {
                axum::serve(listener, router(api))
                    .with_graceful_shutdown(async move {
                        while !stop_http.load(Ordering::Relaxed) {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    })
                    .await
            }));
        }
        Ok(Self {
            addr,
            _store_lock: store_lock,
            stop,
            threads,
            runtime,
            server,
        })
    }

    /// Serves until SIGINT or SIGTERM, then stops. Jobs in flight stay in the store, and the
    /// next start resumes them.
    pub fn run_until_signal(self) -> Result<(), ServeError> {
        self.runtime.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .map_err(|e| ServeError::Http(format!("installing the signal handler: {e}")))?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            Ok::<_, ServeError>(())
        })?;
        self.shutdown()
    }

    /// Stops serving and waits up to ten seconds for the follower and the workers to finish
    /// their current steps. A worker still proving then is left to the process's exit: its job
    /// resumes from the store like any a crash left.
    pub fn shutdown(self) -> Result<(), ServeError> {
        self.stop.store(true, Ordering::Relaxed);
        let served = self.server.map(|s| self.runtime.block_on(s));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.threads.iter().any(|t| !t.is_finished()) && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        match served {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(ServeError::Http(e.to_string())),
            Some(Err(e)) => Err(ServeError::Http(e.to_string())),
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, ServeError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|e| ServeError::Http(format!("starting the {name} thread: {e}")))
}

/// Takes `STORE.lock` for this process. The SQLite store hands every lease back at start, which
/// is right only if no other server is using the file; the OS drops the lock with the process,
/// however it ends.
fn lock_store(store: &std::path::Path) -> Result<std::fs::File, ServeError> {
    let mut name = store.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let path = store.with_file_name(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| ServeError::Store(format!("{}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ServeError::Store(format!(
            "{} is in use by another zkinfer serve; one store file serves one server",
            store.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(ServeError::Store(format!("{}: {e}", path.display())))
        }
    }
}

/// This machine's name, for worker names in a shared store.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "host".into())
}
