//! The chains contracts run on, behind one [`Chain`] trait: an embedded EVM ([`embedded`], revm,
//! the default, whose state can persist in a file) and a real node over JSON-RPC ([`rpc`], alloy);
//! [`anvil`] starts a local dev node.

pub mod anvil;
pub mod embedded;
pub mod rpc;

use alloy::primitives::{Address, Bytes, Log, B256, U256};

use crate::ContractsError;

/// What a transaction did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub success: bool,
    /// Gas the transaction used (intrinsic cost included); for a transaction a node refused to
    /// send because it would revert, 0.
    pub gas_used: u64,
    /// What the sender paid for gas (zero on the embedded chain, which charges none).
    pub fee: U256,
    /// Return data, or revert data when it failed.
    pub output: Bytes,
    pub logs: Vec<Log>,
    pub created: Option<Address>,
    /// The block that included it (none for calls and refused transactions).
    pub block: Option<u64>,
    /// The transaction's hash on a node (the embedded chain has no signed transactions).
    pub tx_hash: Option<B256>,
}

/// A chain that runs transactions. Senders are plain addresses: the embedded chain needs no
/// signatures, and a node client signs with the key it holds for that address.
pub trait Chain {
    /// Sends a transaction (a creation when `to` is `None`) and waits for its outcome.
    fn send(
        &mut self,
        from: Address,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> Result<Outcome, ContractsError>;

    /// Runs a call without changing state.
    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Outcome, ContractsError>;

    fn balance(&mut self, who: Address) -> Result<U256, ContractsError>;

    /// The timestamp the next block will have at least.
    fn timestamp(&mut self) -> Result<u64, ContractsError>;

    /// Moves the chain's clock forward (dev chains only).
    fn advance_time(&mut self, seconds: u64) -> Result<(), ContractsError>;

    /// A label for reports: "embedded (revm)" or the node's URL.
    fn describe(&self) -> String;

    /// The number of the latest block.
    fn block_number(&mut self) -> Result<u64, ContractsError>;

    /// The logs `address` emitted in blocks `from..=to`, oldest first, with their block numbers,
    /// whose first topics are `topics` (the event signature, then indexed arguments).
    fn logs_in(
        &mut self,
        address: Address,
        topics: &[B256],
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Log)>, ContractsError>;

    /// The runtime code at `address` (empty for an account without code).
    fn code(&mut self, address: Address) -> Result<Bytes, ContractsError>;

    /// Like [`Chain::logs_in`], each log with the transaction that emitted it: what an auditor
    /// reads a settled proof from.
    fn logs_with_tx(
        &mut self,
        address: Address,
        topics: &[B256],
        from: u64,
        to: u64,
    ) -> Result<Vec<TxLog>, ContractsError>;

    /// Every log `address` emitted, oldest first, whose first topics are `topics`.
    fn logs(&mut self, address: Address, topics: &[B256]) -> Result<Vec<Log>, ContractsError> {
        let latest = self.block_number()?;
        Ok(self
            .logs_in(address, topics, 0, latest)?
            .into_iter()
            .map(|(_, l)| l)
            .collect())
    }
}

/// A log and the transaction that emitted it.
#[derive(Clone, Debug)]
pub struct TxLog {
    pub block: u64,
    pub log: Log,
    /// The transaction's recipient (`None` for a creation).
    pub to: Option<Address>,
    /// The transaction's calldata.
    pub input: Bytes,
}

/// Whether `log` came from `address` and starts with `topics`.
pub fn log_matches(log: &Log, address: Address, topics: &[B256]) -> bool {
    log.address == address && log.topics().starts_with(topics)
}

/// Deploys `creation_code` and returns the new contract's address.
pub fn deploy(
    chain: &mut dyn Chain,
    from: Address,
    creation_code: &[u8],
) -> Result<(Address, u64), ContractsError> {
    let out = chain.send(from, None, creation_code.to_vec().into(), U256::ZERO)?;
    match (out.success, out.created) {
        (true, Some(addr)) => Ok((addr, out.gas_used)),
        _ => Err(ContractsError::Reverted(format!(
            "deployment failed ({})",
            crate::settlement::describe_revert(&out.output)
        ))),
    }
}

/// The well-known anvil development accounts (mnemonic "test test … junk"): public keys for
/// public test chains. The embedded chain funds the same accounts, so both behave alike.
pub const DEV_KEYS: [&str; 4] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];
