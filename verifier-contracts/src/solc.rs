//! The Solidity compiler driver. A native `solc` of the pinned version is used when it is on PATH,
//! otherwise solc-js (pinned in `verifier-contracts/package.json`) run by node. Both get the same
//! standard-JSON input with pinned settings, so they produce the same bytecode. Outputs are cached
//! by the hash of compiler and input, because solc-js takes seconds to start.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::ContractsError;

/// The pinned compiler version.
pub const SOLC_VERSION: &str = "0.8.37";
/// The pinned target EVM version (supported by revm's default spec and by anvil).
pub const EVM_VERSION: &str = "cancun";
/// The pinned optimizer runs.
pub const OPTIMIZER_RUNS: u32 = 200;

/// The command that installs the pinned JavaScript tools.
pub const INSTALL_HINT: &str = "npm ci --prefix verifier-contracts";

/// What compiled a contract; recorded in artifact manifests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompilerSettings {
    pub compiler: String,
    pub version: String,
    pub evm_version: String,
    pub optimizer_runs: u32,
}

/// One compiled contract.
#[derive(Clone, Debug)]
pub struct CompiledContract {
    pub abi: Value,
    /// Creation code (constructor arguments are appended to it).
    pub bytecode: Vec<u8>,
    /// Runtime code, as deployed.
    pub deployed_bytecode: Vec<u8>,
}

/// How to run the compiler.
#[derive(Clone, Debug)]
enum Toolchain {
    Native,
    SolcJs { tools: PathBuf },
}

/// A located, version-checked compiler.
#[derive(Clone, Debug)]
pub struct Solc {
    toolchain: Toolchain,
    full_version: String,
}

impl Solc {
    /// Finds the pinned compiler: native `solc` first, then solc-js under the JS tools directory.
    pub fn find() -> Result<Self, ContractsError> {
        if let Some(full_version) = native_version() {
            if full_version.starts_with(SOLC_VERSION) {
                return Ok(Self {
                    toolchain: Toolchain::Native,
                    full_version,
                });
            }
            tracing::debug!("native solc {full_version} is not {SOLC_VERSION}; trying solc-js");
        }
        let tools = js_tools_dir().ok_or_else(|| {
            ContractsError::Toolchain(format!(
                "no Solidity compiler {SOLC_VERSION}: put solc {SOLC_VERSION} on PATH, or run `{INSTALL_HINT}` \
                 (from the zkinfer checkout; set ZKINFER_JS_TOOLS to that directory when running elsewhere)"
            ))
        })?;
        let out = Command::new("node")
            .arg(tools.join("js/solc-compile.cjs"))
            .arg("--version")
            .output()
            .map_err(|e| {
                ContractsError::Toolchain(format!(
                    "cannot run node for solc-js ({e}); install Node.js 20+ and run `{INSTALL_HINT}`"
                ))
            })?;
        let full_version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || !full_version.starts_with(SOLC_VERSION) {
            return Err(ContractsError::Toolchain(format!(
                "solc-js in {} is {:?}, expected {SOLC_VERSION}; run `{INSTALL_HINT}`",
                tools.display(),
                full_version
            )));
        }
        Ok(Self {
            toolchain: Toolchain::SolcJs { tools },
            full_version,
        })
    }

    pub fn settings(&self) -> CompilerSettings {
        CompilerSettings {
            compiler: match self.toolchain {
                Toolchain::Native => "solc".into(),
                Toolchain::SolcJs { .. } => "solc-js".into(),
            },
            version: self.full_version.clone(),
            evm_version: EVM_VERSION.into(),
            optimizer_runs: OPTIMIZER_RUNS,
        }
    }

    /// Compiles `sources` (file name → text) and returns every contract they define, by name.
    pub fn compile(
        &self,
        sources: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, CompiledContract>, ContractsError> {
        let input = json!({
            "language": "Solidity",
            "sources": sources.iter().map(|(k, v)| (k.clone(), json!({ "content": v }))).collect::<serde_json::Map<_, _>>(),
            "settings": {
                "optimizer": { "enabled": true, "runs": OPTIMIZER_RUNS, "details": { "yul": false } },
                "evmVersion": EVM_VERSION,
                "metadata": { "bytecodeHash": "none", "appendCBOR": false },
                "outputSelection": { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } }
            }
        })
        .to_string();
        let key = hex::encode(Sha256::digest(
            format!("{}\n{}", self.full_version, input).as_bytes(),
        ));
        let cache = cache_dir().map(|d| d.join(format!("{key}.json")));
        let output = match cache.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
            Some(cached) => cached,
            None => {
                let output = self.run(&input)?;
                if let Some(path) = &cache {
                    // A cache write failure only costs a recompile next time.
                    let _ = write_cache(path, output.as_bytes());
                }
                output
            }
        };
        parse_output(&output)
    }

    fn run(&self, input: &str) -> Result<String, ContractsError> {
        let mut cmd = match &self.toolchain {
            Toolchain::Native => {
                let mut c = Command::new("solc");
                c.arg("--standard-json");
                c
            }
            Toolchain::SolcJs { tools } => {
                let mut c = Command::new("node");
                c.arg(tools.join("js/solc-compile.cjs"));
                c
            }
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ContractsError::Toolchain(format!("cannot start the compiler: {e}")))?;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .map_err(|e| ContractsError::Toolchain(format!("writing to the compiler: {e}")))?;
        let out = child
            .wait_with_output()
            .map_err(|e| ContractsError::Toolchain(format!("running the compiler: {e}")))?;
        if !out.status.success() {
            return Err(ContractsError::Compile(
                String::from_utf8_lossy(&out.stderr).into(),
            ));
        }
        String::from_utf8(out.stdout)
            .map_err(|_| ContractsError::Compile("compiler output is not UTF-8".into()))
    }
}

fn native_version() -> Option<String> {
    let out = Command::new("solc").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .map(|v| v.trim().to_string())
}

/// The directory holding `package.json`, `js/` and `node_modules/` with solc-js installed:
/// `$ZKINFER_JS_TOOLS` when set (and then only there), else `./verifier-contracts`, else this
/// crate's source directory.
pub fn js_tools_dir() -> Option<PathBuf> {
    let installed = |d: &PathBuf| d.join("node_modules/solc/package.json").is_file();
    if let Some(dir) = std::env::var_os("ZKINFER_JS_TOOLS") {
        return Some(PathBuf::from(dir)).filter(installed);
    }
    [
        PathBuf::from("verifier-contracts"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    ]
    .into_iter()
    .find(installed)
}

fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("ZKINFER_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/zkinfer")))?;
    Some(base.join("solc"))
}

fn write_cache(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache file has a parent");
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map(|_| ()).map_err(|e| e.error)
}

fn parse_output(output: &str) -> Result<BTreeMap<String, CompiledContract>, ContractsError> {
    let v: Value = serde_json::from_str(output)
        .map_err(|e| ContractsError::Compile(format!("unreadable compiler output: {e}")))?;
    let errors: Vec<String> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["severity"] == "error")
        .map(|e| {
            e["formattedMessage"]
                .as_str()
                .unwrap_or("unknown error")
                .to_string()
        })
        .collect();
    if !errors.is_empty() {
        return Err(ContractsError::Compile(errors.join("\n")));
    }
    let mut out = BTreeMap::new();
    for (_file, contracts) in v["contracts"].as_object().into_iter().flatten() {
        for (name, c) in contracts.as_object().into_iter().flatten() {
            let code = |k: &str| {
                hex::decode(c["evm"][k]["object"].as_str().unwrap_or_default())
                    .map_err(|e| ContractsError::Compile(format!("{name}: bad {k}: {e}")))
            };
            out.insert(
                name.clone(),
                CompiledContract {
                    abi: c["abi"].clone(),
                    bytecode: code("bytecode")?,
                    deployed_bytecode: code("deployedBytecode")?,
                },
            );
        }
    }
    Ok(out)
}
