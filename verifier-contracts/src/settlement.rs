//! The Settlement contract: its source, typed bindings (alloy `sol!`), and a client that runs its
//! operations on any [`Chain`] and decodes what happened.

use std::collections::BTreeMap;

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol;
use alloy::sol_types::{SolCall, SolError, SolEvent, SolInterface};

use crate::chain::{Chain, Outcome};
use crate::claim::{BatchClaim, Claim};
use crate::solc::{CompiledContract, Solc};
use crate::ContractsError;

pub const SETTLEMENT_SOL: &str = include_str!("../contracts/Settlement.sol");
pub const TEST_TOKEN_SOL: &str = include_str!("../contracts/test/TestToken.sol");
pub const REENTRANT_TOKEN_SOL: &str = include_str!("../contracts/test/ReentrantToken.sol");

/// Bindings generated from `contracts/Settlement.sol` itself, so they cannot drift from it.
mod abi {
    alloy::sol!(
        #[sol(all_derives)]
        "contracts/Settlement.sol"
    );
}
pub use abi::Settlement as ISettlement;

sol! {
    #[derive(Debug)]
    interface IUsageVerifier {
        function verify(bytes proof, uint256[] instances) external view returns (bool);
    }

    #[derive(Debug)]
    interface IERC20 {
        function approve(address spender, uint256 amount) external returns (bool);
        function balanceOf(address account) external view returns (uint256);
    }

    /// The test tokens' extras: open minting, and arming the re-entering token.
    #[derive(Debug)]
    interface ITestToken {
        function mint(address to, uint256 amount) external;
        function arm(address target, bytes payload) external;
    }
}

/// Sources of Settlement alone.
pub fn settlement_sources() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("Settlement.sol".into(), SETTLEMENT_SOL.into()),
        (
            "IUsageVerifier.sol".into(),
            crate::generate::I_USAGE_VERIFIER_SOL.into(),
        ),
        (
            "IBatchVerifier.sol".into(),
            crate::generate::I_BATCH_VERIFIER_SOL.into(),
        ),
    ])
}

/// Compiles Settlement.
pub fn compile_settlement(solc: &Solc) -> Result<CompiledContract, ContractsError> {
    take(solc.compile(&settlement_sources())?, "Settlement")
}

/// Compiles the test tokens: (TestToken, ReentrantToken).
pub fn compile_test_tokens(
    solc: &Solc,
) -> Result<(CompiledContract, CompiledContract), ContractsError> {
    let mut out = solc.compile(&BTreeMap::from([
        ("TestToken.sol".into(), TEST_TOKEN_SOL.into()),
        ("ReentrantToken.sol".into(), REENTRANT_TOKEN_SOL.into()),
    ]))?;
    let plain = out.remove("TestToken");
    let reentrant = out.remove("ReentrantToken");
    plain
        .zip(reentrant)
        .ok_or_else(|| ContractsError::Compile("test tokens missing from output".into()))
}

pub(crate) fn take(
    mut contracts: BTreeMap<String, CompiledContract>,
    name: &str,
) -> Result<CompiledContract, ContractsError> {
    contracts
        .remove(name)
        .ok_or_else(|| ContractsError::Compile(format!("{name} missing from compiler output")))
}

/// A readable reason for revert data: a Settlement error name, an `Error(string)`, or hex.
pub fn describe_revert(data: &[u8]) -> String {
    if data.is_empty() {
        return "reverted without a reason".into();
    }
    if let Ok(e) = ISettlement::SettlementErrors::abi_decode(data) {
        return format!("{e:?}")
            .split(['(', ' '])
            .next()
            .unwrap_or_default()
            .to_string();
    }
    if let Ok(msg) = alloy::sol_types::Revert::abi_decode(data) {
        return msg.reason;
    }
    format!("revert data 0x{}", hex::encode(data))
}

/// A model's registration terms.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelTerms {
    pub verifier: Address,
    pub owner: Address,
    pub provider: Address,
    pub royalty_bps: u16,
    pub price_in: U256,
    pub price_out: U256,
    /// `Address::ZERO` for ETH.
    pub token: Address,
}

/// What a successful transaction returned and cost.
#[derive(Clone, Debug)]
pub struct Receipt<T> {
    pub value: T,
    pub gas_used: u64,
    pub outcome: Outcome,
}

/// Settlement at an address on a chain.
pub struct Settlement<'c> {
    pub chain: &'c mut dyn Chain,
    pub address: Address,
}

impl<'c> Settlement<'c> {
    pub fn deploy(
        chain: &'c mut dyn Chain,
        from: Address,
        compiled: &CompiledContract,
    ) -> Result<Self, ContractsError> {
        let (address, _) = crate::chain::deploy(chain, from, &compiled.bytecode)?;
        Ok(Self { chain, address })
    }

    /// Sends a call; a revert becomes an error naming the contract's reason.
    fn send<C: SolCall>(
        &mut self,
        from: Address,
        call: C,
        value: U256,
    ) -> Result<Outcome, ContractsError> {
        let out = self
            .chain
            .send(from, Some(self.address), call.abi_encode().into(), value)?;
        if !out.success {
            return Err(ContractsError::Reverted(describe_revert(&out.output)));
        }
        Ok(out)
    }

    /// A receipt whose value is read from the event `E` (node receipts carry no return data).
    fn with_event<E: SolEvent, T>(
        out: Outcome,
        f: impl FnOnce(E) -> T,
    ) -> Result<Receipt<T>, ContractsError> {
        let value = f(event::<E>(&out)?);
        Ok(Receipt {
            value,
            gas_used: out.gas_used,
            outcome: out,
        })
    }

    fn view<C: SolCall>(&mut self, call: C) -> Result<C::Return, ContractsError> {
        let out = self
            .chain
            .call(Address::ZERO, self.address, call.abi_encode().into())?;
        if !out.success {
            return Err(ContractsError::Reverted(describe_revert(&out.output)));
        }
        C::abi_decode_returns(&out.output)
            .map_err(|e| ContractsError::Chain(format!("bad return data: {e}")))
    }

    pub fn register_model(
        &mut self,
        from: Address,
        t: &ModelTerms,
    ) -> Result<Receipt<U256>, ContractsError> {
        let out = self.send(
            from,
            ISettlement::registerModelCall {
                verifier: t.verifier,
                owner: t.owner,
                provider: t.provider,
                royaltyBps: t.royalty_bps,
                priceIn: t.price_in,
                priceOut: t.price_out,
                token: t.token,
            },
            U256::ZERO,
        )?;
        Self::with_event(out, |e: ISettlement::ModelRegistered| e.modelId)
    }

    pub fn max_cost(
        &mut self,
        model_id: U256,
        max_in: u64,
        max_out: u64,
    ) -> Result<U256, ContractsError> {
        self.view(ISettlement::maxCostCall {
            modelId: model_id,
            maxIn: max_in,
            maxOut: max_out,
        })
    }

    /// Opens a request; `value` is the ETH escrow (zero for a token-priced model).
    pub fn open_request(
        &mut self,
        from: Address,
        r: &RequestTerms,
        value: U256,
    ) -> Result<Receipt<ISettlement::RequestOpened>, ContractsError> {
        let out = self.send(
            from,
            ISettlement::openRequestCall {
                modelId: r.model_id,
                nonce: r.nonce,
                inputCommitment: r.input_commitment,
                maxIn: r.max_in,
                maxOut: r.max_out,
                deadline: r.deadline,
            },
            value,
        )?;
        Self::with_event(out, |e: ISettlement::RequestOpened| e)
    }

    /// Settles with a claim (from a proof file: `claim::from_proof_file`).
    pub fn settle(
        &mut self,
        from: Address,
        claim: &Claim,
    ) -> Result<Receipt<ISettlement::RequestSettled>, ContractsError> {
        let out = self.send(
            from,
            ISettlement::settleCall {
                requestId: claim.request_id,
                proof: claim.proof.clone(),
                outputCommitment: claim.output_commitment,
                nIn: claim.n_in,
                nOut: claim.n_out,
                ciphertext: claim.ciphertext.clone(),
            },
            U256::ZERO,
        )?;
        Self::with_event(out, |e: ISettlement::RequestSettled| e)
    }

    /// Registers a batch verifier for a model (the model's owner only).
    pub fn register_batch_verifier(
        &mut self,
        from: Address,
        model_id: U256,
        verifier: Address,
    ) -> Result<Receipt<ISettlement::BatchVerifierRegistered>, ContractsError> {
        let out = self.send(
            from,
            ISettlement::registerBatchVerifierCall {
                modelId: model_id,
                verifier,
            },
            U256::ZERO,
        )?;
        Self::with_event(out, |e: ISettlement::BatchVerifierRegistered| e)
    }

    /// Settles every request of an aggregation proof in one transaction; returns their
    /// `RequestSettled` events in order.
    pub fn settle_batch(
        &mut self,
        from: Address,
        model_id: U256,
        batch: &BatchClaim,
    ) -> Result<Receipt<Vec<ISettlement::RequestSettled>>, ContractsError> {
        let out = self.send(
            from,
            ISettlement::settleBatchCall {
                modelId: model_id,
                proof: batch.proof.clone(),
                accumulator: batch.accumulator,
                claims: batch
                    .claims
                    .iter()
                    .map(|c| ISettlement::Claim {
                        requestId: c.request_id,
                        outputCommitment: c.output_commitment,
                        nIn: c.n_in,
                        nOut: c.n_out,
                        ciphertext: c.ciphertext.clone(),
                    })
                    .collect(),
            },
            U256::ZERO,
        )?;
        let events = out
            .logs
            .iter()
            .filter_map(|l| {
                ISettlement::RequestSettled::decode_log(l)
                    .ok()
                    .map(|d| d.data)
            })
            .collect();
        Ok(Receipt {
            value: events,
            gas_used: out.gas_used,
            outcome: out,
        })
    }

    pub fn refund(
        &mut self,
        from: Address,
        request_id: U256,
    ) -> Result<Receipt<U256>, ContractsError> {
        let out = self.send(
            from,
            ISettlement::refundCall {
                requestId: request_id,
            },
            U256::ZERO,
        )?;
        Self::with_event(out, |e: ISettlement::RequestRefunded| e.amount)
    }

    pub fn withdraw(
        &mut self,
        from: Address,
        token: Address,
    ) -> Result<Receipt<U256>, ContractsError> {
        let out = self.send(from, ISettlement::withdrawCall { token }, U256::ZERO)?;
        Self::with_event(out, |e: ISettlement::Withdrawn| e.amount)
    }

    pub fn credits(&mut self, token: Address, account: Address) -> Result<U256, ContractsError> {
        self.view(ISettlement::creditsCall {
            _0: token,
            _1: account,
        })
    }

    /// The `RequestSettled` event of `request_id`, if it was settled: what the client reads its
    /// output from.
    pub fn settled(
        &mut self,
        request_id: U256,
    ) -> Result<Option<ISettlement::RequestSettled>, ContractsError> {
        let topics = [
            ISettlement::RequestSettled::SIGNATURE_HASH,
            request_id.into(),
        ];
        let logs = self.chain.logs(self.address, &topics)?;
        logs.first()
            .map(|l| {
                ISettlement::RequestSettled::decode_log(l)
                    .map(|d| d.data)
                    .map_err(|e| ContractsError::Chain(format!("bad RequestSettled log: {e}")))
            })
            .transpose()
    }

    /// Request `request_id` as stored; a request never opened has status `None`.
    pub fn request(&mut self, request_id: U256) -> Result<RequestInfo, ContractsError> {
        let r = self.view(ISettlement::requestsCall(request_id))?;
        let status = match r._1 as u8 {
            0 => RequestStatus::None,
            1 => RequestStatus::Open,
            2 => RequestStatus::Settled,
            3 => RequestStatus::Refunded,
            other => {
                return Err(ContractsError::Chain(format!(
                    "request {request_id} has unknown status {other}"
                )))
            }
        };
        Ok(RequestInfo {
            client: r._0,
            status,
            deadline: r._2.to(),
            model_id: r._3.into(),
            max_in: r._5,
            max_out: r._6,
            input_commitment: r._8,
            escrow: U256::from(r._7),
        })
    }

    /// The id of the request `client` opens with `nonce` (what its input commitment binds).
    pub fn request_id_for(&mut self, client: Address, nonce: u64) -> Result<U256, ContractsError> {
        self.view(ISettlement::requestIdForCall { client, nonce })
    }

    /// A registered model's payment token (`Address::ZERO` for ETH), or an error if unknown.
    pub fn model_token(&mut self, model_id: U256) -> Result<Address, ContractsError> {
        self.model(model_id)?
            .map(|t| t.token)
            .ok_or_else(|| ContractsError::Reverted("UnknownModel".into()))
    }

    /// A registered model's terms; `None` when no model has this id.
    pub fn model(&mut self, model_id: U256) -> Result<Option<ModelTerms>, ContractsError> {
        let m = self.view(ISettlement::modelsCall(model_id))?;
        // The public getter returns the struct's fields in declaration order.
        Ok((m._0 != Address::ZERO).then(|| ModelTerms {
            verifier: m._0,
            royalty_bps: m._1,
            owner: m._4,
            price_in: U256::from(m._5),
            provider: m._6,
            price_out: U256::from(m._7),
            token: m._8,
        }))
    }
}

/// Where a request stands on-chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestStatus {
    /// Never opened.
    None,
    Open,
    Settled,
    Refunded,
}

/// A request as Settlement stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    pub client: Address,
    pub status: RequestStatus,
    /// Unix time after which it can be refunded.
    pub deadline: u64,
    pub model_id: u64,
    pub max_in: u64,
    pub max_out: u64,
    pub input_commitment: U256,
    /// What the client escrowed.
    pub escrow: U256,
}

/// What a client asks for when it opens a request.
#[derive(Debug, Clone)]
pub struct RequestTerms {
    pub model_id: U256,
    /// The client's choice; the request id is `requestIdFor(client, nonce)`.
    pub nonce: u64,
    pub input_commitment: U256,
    pub max_in: u64,
    pub max_out: u64,
    /// Unix time after which the request can be refunded.
    pub deadline: u64,
}

/// The first event of type `E` in an outcome.
pub fn event<E: SolEvent>(out: &Outcome) -> Result<E, ContractsError> {
    out.logs
        .iter()
        .find_map(|l| E::decode_log(l).ok().map(|d| d.data))
        .ok_or_else(|| ContractsError::Chain(format!("no {} event in the receipt", E::SIGNATURE)))
}

/// Calls `IUsageVerifier.verify` as a transaction would, returning (accepted, gas of that
/// transaction including its intrinsic cost).
pub fn verify_call(
    chain: &mut dyn Chain,
    verifier: Address,
    proof: Bytes,
    instances: Vec<U256>,
) -> Result<(bool, u64), ContractsError> {
    let out = chain.call(
        Address::ZERO,
        verifier,
        IUsageVerifier::verifyCall { proof, instances }
            .abi_encode()
            .into(),
    )?;
    let ok =
        out.success && IUsageVerifier::verifyCall::abi_decode_returns(&out.output).unwrap_or(false);
    Ok((ok, out.gas_used))
}
