//! `zkinfer serve`: the provider's service (see `zkinfer_serve`), run until SIGINT or SIGTERM.
//! The first line on stdout is the address it listens on, as JSON, once it accepts connections.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use zkinfer_serve::{Config, Service};

pub fn run(config: &Path, listen: Option<&str>) -> Result<ExitCode> {
    let config = Config::load(config)?;
    let service = Service::start(&config, listen)?;
    super::print_json_line(&json!({
        "listening": format!("http://{}", service.addr),
        "models": config.models.iter().map(|m| m.model_id).collect::<Vec<_>>(),
        "settlement": config.settlement.to_string(),
    }));
    service.run_until_signal()?;
    Ok(ExitCode::SUCCESS)
}
