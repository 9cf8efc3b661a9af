//! A real node over JSON-RPC (alloy): anvil in the tests, any Ethereum RPC URL for users. The
//! client signs with the keys it was given; a sender without a key is refused.

use alloy::eips::BlockNumberOrTag;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, Bytes, Log, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::{RpcError, TransportErrorKind};

use super::{Chain, Outcome};
use crate::ContractsError;

pub struct Rpc {
    url: String,
    runtime: tokio::runtime::Runtime,
    provider: DynProvider,
    senders: Vec<Address>,
}

impl Rpc {
    /// Connects to `url`, signing with `keys`; with none, it only reads (every send is refused).
    pub fn connect(url: &str, keys: &[PrivateKeySigner]) -> Result<Self, ContractsError> {
        let parsed = url
            .parse()
            .map_err(|e| ContractsError::Chain(format!("bad RPC URL {url:?}: {e}")))?;
        let provider = match keys.split_first() {
            None => ProviderBuilder::new().connect_http(parsed).erased(),
            Some((first, rest)) => {
                let mut wallet = EthereumWallet::from(first.clone());
                for k in rest {
                    wallet.register_signer(k.clone());
                }
                ProviderBuilder::new()
                    .wallet(wallet)
                    .connect_http(parsed)
                    .erased()
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ContractsError::Chain(format!("starting the async runtime: {e}")))?;
        let rpc = Self {
            url: url.to_string(),
            runtime,
            provider,
            senders: keys.iter().map(|k| k.address()).collect(),
        };
        // Fail here, with the URL in the message, rather than on the first transaction.
        rpc.runtime
            .block_on(rpc.provider.get_chain_id())
            .map_err(|e| ContractsError::Chain(format!("cannot reach {url}: {e}")))?;
        Ok(rpc)
    }

    fn request(
        &self,
        from: Address,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> TransactionRequest {
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_input(data)
            .with_value(value);
        match to {
            Some(to) => tx.with_to(to),
            None => tx.into_create(),
        }
    }
}

impl Rpc {
    /// The node's logs of `address` in `from..=to` starting with `topics`.
    fn rpc_logs(
        &mut self,
        address: Address,
        topics: &[B256],
        from: u64,
        to: u64,
    ) -> Result<Vec<alloy::rpc::types::Log>, ContractsError> {
        let mut filter = Filter::new()
            .address(address)
            .from_block(BlockNumberOrTag::Number(from))
            .to_block(BlockNumberOrTag::Number(to));
        for (i, t) in topics.iter().enumerate() {
            filter.topics[i] = (*t).into();
        }
        let provider = self.provider.clone();
        let logs = self
            .runtime
            .block_on(async move { provider.get_logs(&filter).await })
            .map_err(|e| ContractsError::Chain(format!("reading logs: {e}")))?;
        // Nodes filter already; the check keeps the trait's promise whatever the node does.
        Ok(logs
            .into_iter()
            .filter(|l| super::log_matches(&l.inner, address, topics))
            .collect())
    }
}

/// A revert reported by the node while estimating or calling, as an outcome; other errors stay errors.
fn reverted(e: RpcError<TransportErrorKind>) -> Result<Outcome, ContractsError> {
    match e.as_error_resp() {
        Some(resp) if resp.message.contains("revert") || resp.as_revert_data().is_some() => {
            Ok(Outcome {
                success: false,
                gas_used: 0,
                fee: U256::ZERO,
                output: resp.as_revert_data().unwrap_or_default(),
                logs: vec![],
                created: None,
                block: None,
                tx_hash: None,
            })
        }
        _ => Err(ContractsError::Chain(e.to_string())),
    }
}

impl Chain for Rpc {
    fn send(
        &mut self,
        from: Address,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> Result<Outcome, ContractsError> {
        if !self.senders.contains(&from) {
            return Err(ContractsError::Key(format!("no signing key for {from}")));
        }
        let tx = self.request(from, to, data, value);
        let provider = self.provider.clone();
        self.runtime.block_on(async move {
            // The nonce is read from the node each time: a cached one would skip ahead when a
            // transaction is refused at estimation, and every later transaction would then wait.
            let nonce = provider
                .get_transaction_count(from)
                .pending()
                .await
                .map_err(|e| ContractsError::Chain(format!("reading the nonce: {e}")))?;
            let tx = tx.with_nonce(nonce);
            let pending = match provider.send_transaction(tx).await {
                Ok(p) => p,
                Err(e) => return reverted(e),
            };
            let receipt = pending
                .get_receipt()
                .await
                .map_err(|e| ContractsError::Chain(format!("waiting for the receipt: {e}")))?;
            Ok(Outcome {
                success: receipt.status(),
                gas_used: receipt.gas_used,
                fee: U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price),
                output: Bytes::new(),
                logs: receipt.logs().iter().map(|l| l.inner.clone()).collect(),
                created: receipt.contract_address,
                block: receipt.block_number,
                tx_hash: Some(receipt.transaction_hash),
            })
        })
    }

    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Outcome, ContractsError> {
        let tx = self.request(from, Some(to), data, U256::ZERO);
        let provider = self.provider.clone();
        self.runtime.block_on(async move {
            let output = match provider.call(tx.clone()).await {
                Ok(o) => o,
                Err(e) => return reverted(e),
            };
            let gas_used = provider.estimate_gas(tx).await.unwrap_or(0);
            Ok(Outcome {
                success: true,
                gas_used,
                fee: U256::ZERO,
                output,
                logs: vec![],
                created: None,
                block: None,
                tx_hash: None,
            })
        })
    }

    fn balance(&mut self, who: Address) -> Result<U256, ContractsError> {
        self.runtime
            .block_on(async { self.provider.get_balance(who).await })
            .map_err(|e| ContractsError::Chain(e.to_string()))
    }

    fn timestamp(&mut self) -> Result<u64, ContractsError> {
        let block = self
            .runtime
            .block_on(async {
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Latest)
                    .await
            })
            .map_err(|e| ContractsError::Chain(e.to_string()))?
            .ok_or_else(|| ContractsError::Chain("the node has no latest block".into()))?;
        Ok(block.header.timestamp + 1)
    }

    fn advance_time(&mut self, seconds: u64) -> Result<(), ContractsError> {
        let provider = self.provider.clone();
        self.runtime
            .block_on(async move {
                provider
                    .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (seconds,))
                    .await?;
                provider
                    .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
                    .await
            })
            .map(|_| ())
            .map_err(|e| {
                ContractsError::Chain(format!(
                    "{} cannot move its clock (only dev nodes such as anvil can): {e}",
                    self.url
                ))
            })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    fn block_number(&mut self) -> Result<u64, ContractsError> {
        let provider = self.provider.clone();
        self.runtime
            .block_on(async move { provider.get_block_number().await })
            .map_err(|e| ContractsError::Chain(format!("reading the block number: {e}")))
    }

    fn logs_in(
        &mut self,
        address: Address,
        topics: &[B256],
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Log)>, ContractsError> {
        Ok(self
            .rpc_logs(address, topics, from, to)?
            .into_iter()
            .map(|l| (l.block_number.unwrap_or(from), l.inner))
            .collect())
    }

    fn code(&mut self, address: Address) -> Result<Bytes, ContractsError> {
        let provider = self.provider.clone();
        self.runtime
            .block_on(async move { provider.get_code_at(address).await })
            .map_err(|e| ContractsError::Chain(format!("reading the code of {address}: {e}")))
    }

    fn logs_with_tx(
        &mut self,
        address: Address,
        topics: &[B256],
        from: u64,
        to: u64,
    ) -> Result<Vec<super::TxLog>, ContractsError> {
        use alloy::consensus::Transaction as _;
        let logs = self.rpc_logs(address, topics, from, to)?;
        let mut out = Vec::with_capacity(logs.len());
        for l in logs {
            let hash = l.transaction_hash.ok_or_else(|| {
                ContractsError::Chain("the node returned a log without its transaction".into())
            })?;
            let provider = self.provider.clone();
            let tx = self
                .runtime
                .block_on(async move { provider.get_transaction_by_hash(hash).await })
                .map_err(|e| ContractsError::Chain(format!("reading transaction {hash}: {e}")))?
                .ok_or_else(|| {
                    ContractsError::Chain(format!("the node has no transaction {hash}"))
                })?;
            out.push(super::TxLog {
                block: l.block_number.unwrap_or(from),
                to: tx.to(),
                input: tx.input().clone(),
                log: l.inner,
            });
        }
        Ok(out)
    }
}
