//! The embedded chain: revm in-process, one block per transaction, no fees (gas price 0, so
//! balances move only by value transfers and accounting can be checked to the wei). Its state can
//! be saved to and loaded from a JSON file, written atomically, with accounts and storage in sorted
//! order so the same history gives the same file; the logs of every successful transaction are
//! kept with it, so clients can read events (a settlement's ciphertext) as from a node.
//!
//! Several processes may share one state file (a service and its clients): [`Embedded::lock`]
//! takes an exclusive lock on `FILE.lock` that every reader and writer holds from loading the
//! state to saving it, so no transaction is lost to a concurrent save.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, Bytes, Log, B256, U256};
use revm::bytecode::Bytecode;
use revm::context::result::ExecutionResult;
use revm::context::{Context, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::TxKind;
use revm::state::AccountInfo;
use revm::{ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};
use serde::{Deserialize, Serialize};

use super::{Chain, Outcome, DEV_KEYS};
use crate::ContractsError;

/// Block gas limit.
pub const GAS_LIMIT: u64 = 30_000_000;
/// Gas limit of every transaction (Osaka caps transactions at 2^24).
pub const TX_GAS_LIMIT: u64 = 16_000_000;
/// Chain id (anvil's default).
pub const CHAIN_ID: u64 = 31337;
/// Seconds between blocks.
pub const BLOCK_TIME: u64 = 12;
/// Genesis timestamp: fixed, so a replayed history gives the same state.
pub const GENESIS_TIME: u64 = 1_700_000_000;
/// What each dev account holds at genesis (10,000 ETH, like anvil).
pub fn dev_balance() -> U256 {
    U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64))
}

pub struct Embedded {
    db: CacheDB<EmptyDB>,
    number: u64,
    timestamp: u64,
    /// Every successful transaction's logs with the number of its block, oldest first.
    logs: Vec<(u64, Log)>,
    /// The recipient and calldata of every successful transaction that logged, by block.
    txs: BTreeMap<u64, SavedTx>,
}

/// The exclusive hold of a state file: released when dropped.
pub struct StateLock {
    _file: File,
}

/// One account as saved in the state file.
#[derive(Serialize, Deserialize)]
struct SavedAccount {
    balance: U256,
    nonce: u64,
    #[serde(default, skip_serializing_if = "is_empty")]
    code: Bytes,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    storage: BTreeMap<U256, U256>,
}

#[derive(Serialize, Deserialize)]
struct SavedState {
    chain_id: u64,
    number: u64,
    timestamp: u64,
    accounts: BTreeMap<Address, SavedAccount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    logs: Vec<Log>,
    /// The block of each log (files written before blocks were kept have none: block 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    log_blocks: Vec<u64>,
    /// The transactions that logged, by block (one transaction per block).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    txs: BTreeMap<u64, SavedTx>,
}

/// A transaction that logged, as saved: what [`Chain::logs_with_tx`] returns with its logs.
#[derive(Clone, Serialize, Deserialize)]
struct SavedTx {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<Address>,
    input: Bytes,
}

fn is_empty(b: &Bytes) -> bool {
    b.0.is_empty()
}

impl Default for Embedded {
    fn default() -> Self {
        Self::new()
    }
}

impl Embedded {
    /// A fresh chain with the dev accounts funded.
    pub fn new() -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        for key in DEV_KEYS {
            let addr = crate::keys::address_of(key).expect("dev keys are valid");
            db.insert_account_info(
                addr,
                AccountInfo {
                    balance: dev_balance(),
                    ..Default::default()
                },
            );
        }
        Self {
            db,
            number: 0,
            timestamp: GENESIS_TIME,
            logs: Vec::new(),
            txs: BTreeMap::new(),
        }
    }

    /// Takes the exclusive lock of the state file at `path`, waiting for any other holder.
    pub fn lock(path: &Path) -> Result<StateLock, ContractsError> {
        let lock_path = lock_path(path);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| ContractsError::io(&lock_path, e))?;
        file.lock().map_err(|e| ContractsError::io(&lock_path, e))?;
        Ok(StateLock { _file: file })
    }

    /// Runs `f` on the chain saved at `path` under its lock, and saves the result when `f`
    /// succeeds and `write` is set (a failed transaction still used its nonce: pass `write`
    /// whenever `f` sends).
    pub fn with_locked<T>(
        path: &Path,
        write: bool,
        f: impl FnOnce(&mut Embedded) -> Result<T, ContractsError>,
    ) -> Result<T, ContractsError> {
        let _lock = Self::lock(path)?;
        let mut chain = Self::open(path)?;
        let out = f(&mut chain);
        if write {
            chain.save(path)?;
        }
        out
    }

    /// Loads a saved chain, or starts a fresh one when the file does not exist.
    pub fn open(path: &Path) -> Result<Self, ContractsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::new()),
            Err(e) => return Err(ContractsError::io(path, e)),
        };
        let saved: SavedState = serde_json::from_str(&text).map_err(|e| {
            ContractsError::State(format!(
                "{}: not a zkinfer chain state: {e}",
                path.display()
            ))
        })?;
        let mut db = CacheDB::new(EmptyDB::default());
        for (addr, a) in saved.accounts {
            let code = (!a.code.is_empty()).then(|| Bytecode::new_raw(a.code.clone()));
            let mut info = AccountInfo {
                balance: a.balance,
                nonce: a.nonce,
                ..Default::default()
            };
            if let Some(code) = code {
                info.code_hash = code.hash_slow();
                info.code = Some(code);
            }
            db.insert_account_info(addr, info);
            for (slot, value) in a.storage {
                db.insert_account_storage(addr, slot, value)
                    .expect("in-memory storage insert");
            }
        }
        let blocks = saved.log_blocks.into_iter().chain(std::iter::repeat(0));
        Ok(Self {
            db,
            number: saved.number,
            timestamp: saved.timestamp,
            logs: blocks.zip(saved.logs).collect(),
            txs: saved.txs,
        })
    }

    /// Saves the chain atomically.
    pub fn save(&self, path: &Path) -> Result<(), ContractsError> {
        let mut accounts = BTreeMap::new();
        for (addr, acc) in &self.db.cache.accounts {
            let code = self.code_of(&acc.info);
            accounts.insert(
                *addr,
                SavedAccount {
                    balance: acc.info.balance,
                    nonce: acc.info.nonce,
                    code,
                    storage: acc
                        .storage
                        .iter()
                        .filter(|(_, v)| !v.is_zero())
                        .map(|(k, v)| (*k, *v))
                        .collect(),
                },
            );
        }
        let saved = SavedState {
            chain_id: CHAIN_ID,
            number: self.number,
            timestamp: self.timestamp,
            accounts,
            logs: self.logs.iter().map(|(_, l)| l.clone()).collect(),
            log_blocks: self.logs.iter().map(|(b, _)| *b).collect(),
            txs: self.txs.clone(),
        };
        let json = serde_json::to_vec_pretty(&saved).expect("state serializes");
        crate::write_atomic(path, &json)
    }

    /// An account's code, held inline or by hash.
    fn code_of(&self, info: &AccountInfo) -> Bytes {
        info.code
            .clone()
            .or_else(|| self.db.cache.contracts.get(&info.code_hash).cloned())
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }

    fn tx(&self, from: Address, to: Option<Address>, data: Bytes, value: U256) -> TxEnv {
        let nonce = self
            .db
            .cache
            .accounts
            .get(&from)
            .map(|a| a.info.nonce)
            .unwrap_or(0);
        TxEnv::builder()
            .caller(from)
            .kind(to.map(TxKind::Call).unwrap_or(TxKind::Create))
            .data(data)
            .value(value)
            .gas_limit(TX_GAS_LIMIT)
            .gas_price(0)
            .nonce(nonce)
            .chain_id(Some(CHAIN_ID))
            .build_fill()
    }

    fn outcome(result: ExecutionResult) -> Outcome {
        Outcome {
            success: result.is_success(),
            gas_used: result.tx_gas_used(),
            fee: U256::ZERO,
            created: result.created_address(),
            logs: result.logs().to_vec(),
            output: result.output().cloned().unwrap_or_default(),
            block: None,
            tx_hash: None,
        }
    }
}

macro_rules! evm {
    ($self:expr) => {
        Context::mainnet()
            .with_db(&mut $self.db)
            .modify_cfg_chained(|c| c.chain_id = CHAIN_ID)
            .modify_block_chained(|b| {
                b.number = U256::from($self.number + 1);
                b.timestamp = U256::from($self.timestamp + BLOCK_TIME);
                b.gas_limit = GAS_LIMIT;
                b.basefee = 0;
            })
            .build_mainnet()
    };
}

impl Chain for Embedded {
    fn send(
        &mut self,
        from: Address,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> Result<Outcome, ContractsError> {
        let tx = self.tx(from, to, data.clone(), value);
        let mut evm = evm!(self);
        let result = evm
            .transact_commit(tx)
            .map_err(|e| ContractsError::Chain(format!("transaction refused: {e:?}")))?;
        self.number += 1;
        self.timestamp += BLOCK_TIME;
        let out = Outcome {
            block: Some(self.number),
            ..Self::outcome(result)
        };
        if out.success && !out.logs.is_empty() {
            let block = self.number;
            self.logs
                .extend(out.logs.iter().map(|l| (block, l.clone())));
            self.txs.insert(block, SavedTx { to, input: data });
        }
        Ok(out)
    }

    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Outcome, ContractsError> {
        let tx = self.tx(from, Some(to), data, U256::ZERO);
        let mut evm = evm!(self);
        let result = evm
            .transact(tx)
            .map_err(|e| ContractsError::Chain(format!("call refused: {e:?}")))?;
        Ok(Self::outcome(result.result))
    }

    fn balance(&mut self, who: Address) -> Result<U256, ContractsError> {
        Ok(self
            .db
            .cache
            .accounts
            .get(&who)
            .map(|a| a.info.balance)
            .unwrap_or_default())
    }

    fn timestamp(&mut self) -> Result<u64, ContractsError> {
        Ok(self.timestamp + BLOCK_TIME)
    }

    fn advance_time(&mut self, seconds: u64) -> Result<(), ContractsError> {
        self.timestamp += seconds;
        Ok(())
    }

    fn block_number(&mut self) -> Result<u64, ContractsError> {
        Ok(self.number)
    }

    fn logs_in(
        &mut self,
        address: Address,
        topics: &[B256],
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Log)>, ContractsError> {
        Ok(self
            .logs
            .iter()
            .filter(|(b, l)| (from..=to).contains(b) && super::log_matches(l, address, topics))
            .cloned()
            .collect())
    }

    fn code(&mut self, address: Address) -> Result<Bytes, ContractsError> {
        Ok(self
            .db
            .cache
            .accounts
            .get(&address)
            .map(|acc| self.code_of(&acc.info))
            .unwrap_or_default())
    }

    fn logs_with_tx(
        &mut self,
        address: Address,
        topics: &[B256],
        from: u64,
        to: u64,
    ) -> Result<Vec<super::TxLog>, ContractsError> {
        self.logs_in(address, topics, from, to)?
            .into_iter()
            .map(|(block, log)| {
                let tx = self.txs.get(&block).ok_or_else(|| {
                    ContractsError::State(format!(
                        "block {block}: the state file keeps no transaction (written by an older zkinfer)"
                    ))
                })?;
                Ok(super::TxLog {
                    block,
                    log,
                    to: tx.to,
                    input: tx.input.clone(),
                })
            })
            .collect()
    }

    fn describe(&self) -> String {
        "embedded (revm)".into()
    }
}

/// The lock file beside a state file: `chain.json` → `chain.json.lock`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}
