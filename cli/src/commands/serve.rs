//! `zkinfer serve`: the provider's service (see `zkinfer_serve`), run until SIGINT or SIGTERM.
//! The first line on stdout is, as JSON, the address it listens on once it accepts connections
//! (or, for workers only, that the workers started).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use zkinfer_serve::{Config, Options, Service};

pub fn run(config: &Path, store: Option<String>, opts: Options) -> Result<ExitCode> {
    let mut config = Config::load(config)?;
    if let Some(s) = store {
        config.store = s.into();
    }
    let service = Service::start(&config, &opts)?;
    super::print_json_line(&json!({
        "listening": service.addr.map(|a| format!("http://{a}")),
        "workers": config.workers,
        "store": config.store.describe(),
        "models": config.models.iter().map(|m| m.model_id).collect::<Vec<_>>(),
        "settlement": config.settlement.to_string(),
    }));
    service.run_until_signal()?;
    Ok(ExitCode::SUCCESS)
}
