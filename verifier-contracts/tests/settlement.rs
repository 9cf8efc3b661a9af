//! Settlement end to end with real proofs of the example MLP, for both backends, on the embedded
//! chain (revm) and on a real node (anvil): the happy path pays exact amounts, and every attack
//! reverts and pays nothing.

mod common;

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolCall;
use common::Fixture;
use zkinfer_contracts::chain::anvil::Anvil;
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::chain::rpc::Rpc;
use zkinfer_contracts::chain::{deploy, Chain};
use zkinfer_contracts::claim::Claim;
use zkinfer_contracts::keys::dev;
use zkinfer_contracts::settlement::{
    verify_call, ISettlement, ITestToken, ModelTerms, RequestTerms, Settlement, IERC20,
};
use zkinfer_contracts::ContractsError;

use common::{MAX_IN, MAX_OUT, PRICE_IN, PRICE_OUT, ROYALTY_BPS};
const DEADLINE_IN: u64 = 3_600;

use common::{reason, roles, Roles};

/// Asserts that `f` reverts with `want` and leaves every credit and the contract's balance as they were.
fn assert_reverts<T: std::fmt::Debug>(
    s: &mut Settlement<'_>,
    token: Address,
    who: &[Address],
    want: &str,
    what: &str,
    f: impl FnOnce(&mut Settlement<'_>) -> Result<T, ContractsError>,
) {
    let before: Vec<U256> = who.iter().map(|a| s.credits(token, *a).unwrap()).collect();
    let held = s.chain.balance(s.address).unwrap();
    let got = reason(f(s).expect_err(what));
    assert_eq!(got, want, "{what}: wrong revert reason");
    let after: Vec<U256> = who.iter().map(|a| s.credits(token, *a).unwrap()).collect();
    assert_eq!(before, after, "{what}: credits changed");
    assert_eq!(
        held,
        s.chain.balance(s.address).unwrap(),
        "{what}: balance changed"
    );
}

/// Gas of the transactions a request goes through, as one chain charged them.
struct Gas {
    verify: u64,
    /// The client's first request.
    open: u64,
    /// A settle that pays the provider, owner and client for the first time.
    settle: u64,
    /// A settle when the payees already hold credits.
    steady: u64,
}

/// Every scenario of the issue on one chain.
fn scenarios(chain: &mut dyn Chain, fx: &Fixture) -> Gas {
    let who = roles();
    let everyone = [who.owner, who.provider, who.client];
    let (adapter, _) = zkinfer_contracts::artifact::deploy(
        chain,
        who.deployer,
        &fx.verifier.part_codes(),
        &fx.verifier.adapter.bytecode,
    )
    .unwrap();
    let mut s = Settlement::deploy(chain, who.deployer, common::settlement()).unwrap();
    // The client's requests 1 to 4: ids derived from (client, nonce), known before opening.
    let ids: Vec<U256> = (1..=4)
        .map(|n| s.request_id_for(who.client, n).unwrap())
        .collect();
    let a = &fx.claim(ids[0]);
    let (ok, verify_gas) = verify_call(s.chain, adapter, a.proof.clone(), a.instances()).unwrap();
    assert!(ok, "the adapter accepts a valid proof");
    let terms = common::eth_terms(adapter);
    // Registration checks its terms.
    let mut bad = terms.clone();
    bad.royalty_bps = 10_001;
    assert_eq!(
        reason(s.register_model(who.owner, &bad).unwrap_err()),
        "RoyaltyTooHigh"
    );
    bad = terms.clone();
    bad.verifier = who.client;
    assert_eq!(
        reason(s.register_model(who.owner, &bad).unwrap_err()),
        "VerifierHasNoCode"
    );
    // A contract that does not say how many instances its proofs have is no verifier.
    bad = terms.clone();
    bad.verifier = s.address;
    assert_eq!(
        reason(s.register_model(who.owner, &bad).unwrap_err()),
        "InvalidModel"
    );
    // A price shares its storage slot with an address: 96 bits at most.
    bad = terms.clone();
    bad.price_out = U256::from(1) << 96;
    assert_eq!(
        reason(s.register_model(who.owner, &bad).unwrap_err()),
        "InvalidModel"
    );
    let model = s.register_model(who.owner, &terms).unwrap().value;

    let escrow = s.max_cost(model, MAX_IN, MAX_OUT).unwrap();
    assert_eq!(escrow, U256::from(MAX_IN * PRICE_IN + MAX_OUT * PRICE_OUT));
    let terms_for = |s: &mut Settlement<'_>, nonce: u64, id: U256, max: (u64, u64)| RequestTerms {
        model_id: model,
        nonce,
        input_commitment: fx.input_commitment(id),
        max_in: max.0,
        max_out: max.1,
        deadline: s.chain.timestamp().unwrap() + DEADLINE_IN,
    };
    // The escrow must be exact.
    let t = terms_for(&mut s, 1, ids[0], (MAX_IN, MAX_OUT));
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "WrongPayment",
        "short escrow",
        |s| s.open_request(who.client, &t, escrow - U256::from(1)),
    );

    // A request stores its deadline in 40 bits and its escrow in 128: beyond either it is
    // refused before any payment, not truncated.
    let mut far = t.clone();
    far.deadline = 1 << 40;
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "DeadlineTooFar",
        "deadline past 2^40",
        |s| s.open_request(who.client, &far, escrow),
    );
    let mut dear_terms = terms.clone();
    dear_terms.price_in = (U256::from(1) << 96) - U256::from(1);
    let dear = s.register_model(who.owner, &dear_terms).unwrap().value;
    let mut huge = t.clone();
    huge.model_id = dear;
    huge.max_in = 1 << 40;
    let huge_cost = s.max_cost(dear, 1 << 40, MAX_OUT).unwrap();
    assert!(huge_cost > U256::from(u128::MAX));
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "EscrowTooLarge",
        "escrow past 2^128",
        // refused on the amount alone, before the payment is looked at
        |s| s.open_request(who.client, &huge, U256::ZERO),
    );
    // The front-run of the open-request race: someone who sees the client's commitment opens
    // first. A free request is refused; a paid one under the client's nonce gets the opener's
    // own id, so the client's request still opens under the id it committed to.
    let free = terms_for(&mut s, 1, ids[0], (0, 0));
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "ZeroCostRequest",
        "free request",
        |s| s.open_request(who.owner, &free, U256::ZERO),
    );
    let front = s
        .open_request(who.owner, &t, escrow)
        .unwrap()
        .value
        .requestId;
    assert_eq!(front, s.request_id_for(who.owner, 1).unwrap());
    assert_ne!(
        front, ids[0],
        "the front-runner cannot take the client's id"
    );
    let mut open_gas = 0;
    for (n, id) in ids.iter().enumerate() {
        let t = terms_for(&mut s, n as u64 + 1, *id, (MAX_IN, MAX_OUT));
        let r = s.open_request(who.client, &t, escrow).unwrap();
        if n == 0 {
            open_gas = r.gas_used;
        }
        assert_eq!(r.value.requestId, *id, "the id the commitment was made for");
        assert_eq!(r.value.escrow, escrow);
    }
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "RequestExists",
        "nonce reused",
        |s| s.open_request(who.client, &t, escrow),
    );

    // Attacks on request 1 before its honest settlement. Request 2 has the same input but its own
    // commitment, which binds the id: request 1's proof fails there.
    let mut tampered = a.proof.to_vec();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 1;
    let one = U256::from(1);
    let mut word_changed = a.ciphertext.clone();
    word_changed[0] += one;
    let mut word_above_r = a.ciphertext.clone();
    word_above_r[0] += common::r();
    let mut extra_word = a.ciphertext.clone();
    extra_word.push(U256::ZERO);
    // the same output under request 2's pads
    let other_pads = fx.claim(ids[1]).ciphertext;
    let attacks = [
        (
            "InvalidProof",
            "tampered proof",
            Claim {
                proof: tampered.into(),
                ..a.clone()
            },
        ),
        (
            "InvalidProof",
            "wrong output commitment",
            Claim {
                output_commitment: a.output_commitment + one,
                ..a.clone()
            },
        ),
        (
            "NotInField",
            "output commitment + r",
            Claim {
                output_commitment: a.output_commitment + common::r(),
                ..a.clone()
            },
        ),
        (
            "UsageExceedsRequest",
            "nOut > maxOut",
            Claim {
                n_out: MAX_OUT + 1,
                ..a.clone()
            },
        ),
        (
            "InvalidProof",
            "one more output token",
            Claim {
                n_out: a.n_out + 1,
                ..a.clone()
            },
        ),
        (
            "InvalidProof",
            "one fewer input token",
            Claim {
                n_in: a.n_in - 1,
                ..a.clone()
            },
        ),
        (
            "InvalidProof",
            "another request's proof",
            Claim {
                request_id: ids[1],
                ..a.clone()
            },
        ),
        (
            "InvalidProof",
            "a ciphertext word changed",
            Claim {
                ciphertext: word_changed,
                ..a.clone()
            },
        ),
        (
            "InvalidProof",
            "the output under another request's pads",
            Claim {
                ciphertext: other_pads,
                ..a.clone()
            },
        ),
        (
            "NotInField",
            "a ciphertext word + r",
            Claim {
                ciphertext: word_above_r,
                ..a.clone()
            },
        ),
        (
            "WrongCiphertextLength",
            "a ciphertext word too many",
            Claim {
                ciphertext: extra_word,
                ..a.clone()
            },
        ),
        (
            "WrongCiphertextLength",
            "no ciphertext",
            Claim {
                ciphertext: vec![],
                ..a.clone()
            },
        ),
    ];
    for (want, what, claim) in &attacks {
        assert_reverts(&mut s, Address::ZERO, &everyone, want, what, |s| {
            s.settle(who.provider, claim)
        });
    }
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "DeadlineNotReached",
        "refund before the deadline",
        |s| s.refund(who.client, ids[0]),
    );

    // The honest settlement pays exact amounts.
    let settled = s.settle(who.provider, a).unwrap();
    let settle_gas = settled.gas_used;
    let cost = U256::from(a.n_in * PRICE_IN + a.n_out * PRICE_OUT);
    let royalty = cost * U256::from(ROYALTY_BPS) / U256::from(10_000u64);
    assert_eq!(settled.value.royalty, royalty);
    assert_eq!(settled.value.providerAmount, cost - royalty);
    assert_eq!(settled.value.refund, escrow - cost);
    // The event that pays publishes the ciphertext; the client finds it by request id.
    assert_eq!(settled.value.ciphertext, a.ciphertext);
    let published = s
        .settled(ids[0])
        .unwrap()
        .expect("the settlement is in the logs");
    assert_eq!(published.ciphertext, a.ciphertext);
    assert_eq!(published.outputCommitment, a.output_commitment);
    assert!(s.settled(ids[1]).unwrap().is_none());
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "NotOpen",
        "second settle",
        |s| s.settle(who.provider, a),
    );
    // Request 4 settles while the payees still hold credits from request 1: the steady state of
    // a provider who withdraws now and then.
    let d = &fx.claim(ids[3]);
    let steady_gas = s.settle(who.provider, d).unwrap().gas_used;
    let mut paid = U256::ZERO;
    for (account, want) in [
        (who.provider, cost - royalty),
        (who.owner, royalty),
        (who.client, escrow - cost),
    ] {
        let want = want * U256::from(2);
        let before = s.chain.balance(account).unwrap();
        let w = s.withdraw(account, Address::ZERO).unwrap();
        assert_eq!(w.value, want);
        // The balance moves by exactly the amount, less the withdrawal's own gas.
        assert_eq!(
            s.chain.balance(account).unwrap() + w.outcome.fee - before,
            want
        );
        paid += want;
    }
    assert_eq!(
        paid,
        escrow * U256::from(2),
        "provider + owner + refund = escrow"
    );
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "NothingToWithdraw",
        "double withdraw",
        |s| s.withdraw(who.provider, Address::ZERO),
    );

    // Request 3: refunded after its deadline, then its own valid proof can no longer settle it.
    s.chain.advance_time(DEADLINE_IN + 60).unwrap();
    let c = &fx.claim(ids[2]);
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "DeadlinePassed",
        "settle after the deadline",
        |s| s.settle(who.provider, c),
    );
    assert_eq!(
        s.refund(who.provider, ids[2]).unwrap().value,
        escrow,
        "anyone may trigger a refund"
    );
    assert_eq!(s.credits(Address::ZERO, who.client).unwrap(), escrow);
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "NotOpen",
        "settle after refund",
        |s| s.settle(who.provider, c),
    );
    assert_reverts(
        &mut s,
        Address::ZERO,
        &everyone,
        "NotOpen",
        "second refund",
        |s| s.refund(who.client, ids[2]),
    );

    // The front-runner's own request is refunded to it like any other.
    assert_eq!(s.refund(who.owner, front).unwrap().value, escrow);

    reentrant_token(&mut s, fx, &who, adapter);
    Gas {
        verify: verify_gas,
        open: open_gas,
        settle: settle_gas,
        steady: steady_gas,
    }
}

/// A token-priced model whose token re-enters Settlement from `transfer`: the withdrawal reverts
/// as a whole and pays nothing; unarmed, the same withdrawal pays.
fn reentrant_token(s: &mut Settlement<'_>, fx: &Fixture, who: &Roles, adapter: Address) {
    let (_, reentrant) = common::tokens();
    let (token, _) = deploy(s.chain, who.deployer, &reentrant.bytecode).unwrap();
    let send = |s: &mut Settlement<'_>, from: Address, call: Vec<u8>| {
        let out = s
            .chain
            .send(from, Some(token), call.into(), U256::ZERO)
            .unwrap();
        assert!(out.success);
    };
    let supply = U256::from(1_000_000u64);
    send(
        s,
        who.client,
        ITestToken::mintCall {
            to: who.client,
            amount: supply,
        }
        .abi_encode(),
    );
    send(
        s,
        who.client,
        IERC20::approveCall {
            spender: s.address,
            amount: supply,
        }
        .abi_encode(),
    );
    let terms = ModelTerms {
        verifier: adapter,
        owner: who.owner,
        provider: who.provider,
        royalty_bps: ROYALTY_BPS,
        price_in: U256::from(100u64),
        price_out: U256::from(300u64),
        token,
    };
    let model = s.register_model(who.owner, &terms).unwrap().value;
    let id = s.request_id_for(who.client, 5).unwrap();
    let t = RequestTerms {
        model_id: model,
        nonce: 5,
        input_commitment: fx.input_commitment(id),
        max_in: MAX_IN,
        max_out: MAX_OUT,
        deadline: s.chain.timestamp().unwrap() + DEADLINE_IN,
    };
    let opened = s.open_request(who.client, &t, U256::ZERO).unwrap();
    assert_eq!(opened.value.requestId, id);
    let escrow = U256::from(MAX_IN * 100 + MAX_OUT * 300);
    assert_eq!(opened.value.escrow, escrow, "balance-delta escrow");
    let d = &fx.claim(id);
    s.settle(who.provider, d).unwrap();
    let provider_credit = s.credits(token, who.provider).unwrap();
    assert!(provider_credit > U256::ZERO);

    // Armed: the token calls Settlement.withdraw again from inside the payout.
    let payload = ISettlement::withdrawCall { token }.abi_encode();
    send(
        s,
        who.provider,
        ITestToken::armCall {
            target: s.address,
            payload: payload.into(),
        }
        .abi_encode(),
    );
    let balance_of = |s: &mut Settlement<'_>, a: Address| {
        let out = s
            .chain
            .call(
                a,
                token,
                IERC20::balanceOfCall { account: a }.abi_encode().into(),
            )
            .unwrap();
        IERC20::balanceOfCall::abi_decode_returns(&out.output).unwrap()
    };
    let before = balance_of(s, who.provider);
    assert_reverts(
        s,
        token,
        &[who.owner, who.provider, who.client],
        "TransferFailed",
        "reentrant token",
        |s| s.withdraw(who.provider, token),
    );
    assert_eq!(
        balance_of(s, who.provider),
        before,
        "nothing paid to the re-entering withdrawal"
    );
    // Disarm (the armed state was rolled back with the revert, so arm with an empty target).
    send(
        s,
        who.provider,
        ITestToken::armCall {
            target: Address::ZERO,
            payload: Bytes::new(),
        }
        .abi_encode(),
    );
    assert_eq!(
        s.withdraw(who.provider, token).unwrap().value,
        provider_credit
    );
    assert_eq!(balance_of(s, who.provider) - before, provider_credit);
}

fn on_revm(fx: &Fixture) {
    let mut chain = Embedded::new();
    let g = scenarios(&mut chain, fx);
    eprintln!(
        "{} on revm: verify {} gas, open {}, settle {} (payees already credited: {})",
        fx.backend, g.verify, g.open, g.settle, g.steady
    );
}

fn on_anvil(fx: &Fixture) {
    let anvil = Anvil::start().expect("anvil starts");
    let keys: Vec<_> = (0..4).map(dev).collect();
    let mut chain = Rpc::connect(&anvil.url, &keys).unwrap();
    // A node's gas figure for `verify` is an estimate that stops where the call first returns,
    // so only `settle`'s (a mined receipt) is reported here.
    let g = scenarios(&mut chain, fx);
    eprintln!(
        "{} on anvil: open {} gas, settle {} (payees already credited: {})",
        fx.backend, g.open, g.settle, g.steady
    );
}

#[test]
fn halo2_settlement_on_revm() {
    on_revm(common::halo2());
}

#[test]
fn halo2_settlement_on_anvil() {
    on_anvil(common::halo2());
}

#[test]
fn groth16_settlement_on_revm() {
    on_revm(common::groth16());
}

#[test]
fn groth16_settlement_on_anvil() {
    on_anvil(common::groth16());
}
