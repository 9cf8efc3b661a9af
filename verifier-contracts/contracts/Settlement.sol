// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

import {IUsageVerifier} from "./IUsageVerifier.sol";
import {IBatchVerifier} from "./IBatchVerifier.sol";

interface IERC20Minimal {
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title Settlement
/// @notice Escrows a client's payment for a model run and releases it only for a valid proof whose
/// usage statement matches the request: the provider is paid per metered input and output token, the
/// model's owner takes a royalty, and the client gets back what was not used. The proof carries
/// the output encrypted to the client (under pads only the client's salt opens), and the event
/// that pays publishes it: payment and delivery are one transaction. Payments are pulled
/// (`withdraw`), never pushed. A model's owner may also register batch verifiers, each of which
/// settles N of the model's requests with one aggregation proof (`settleBatch`) under exactly the
/// rules of `settle`; a request can only be settled by a batch verifier registered before it was
/// opened, so a client knows every verifier that can pay out its escrow when it commits to it.
contract Settlement {
    /// BN254 scalar-field modulus: every public instance must be below it.
    uint256 internal constant R = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    /// `token` value that means native ETH.
    address public constant ETH = address(0);

    /// Packed into four slots, all of which settling reads: prices are capped at 2^96 - 1 so
    /// that each shares a slot with an address.
    struct Model {
        address verifier;
        uint16 royaltyBps;
        /// Words of the output ciphertext this model's proofs carry (the verifier's instances
        /// beyond the five usage instances), fixed at registration.
        uint16 cipherWords;
        /// Batch verifiers registered so far: at most one per N, and N fits 16 bits.
        uint16 batchVerifiers;
        address owner;
        uint96 priceIn;
        address provider;
        uint96 priceOut;
        address token;
    }

    enum Status {
        None,
        Open,
        Settled,
        Refunded
    }

    /// Packed into three slots, each a cold read when settling: the first holds what every
    /// transition checks, the second the amounts, the third the commitment.
    struct Request {
        address client;
        Status status;
        uint40 deadline;
        uint32 modelId;
        /// The model's batch verifiers when the request was opened: only these may settle it.
        uint16 batchVerifiers;
        uint64 maxIn;
        uint64 maxOut;
        uint128 escrow;
        uint256 inputCommitment;
    }

    /// A model's verifier of aggregation proofs for some N, and its place in registration order.
    struct BatchVerifier {
        address verifier;
        uint16 index;
    }

    /// One request's claim in a batch: what `settle` takes besides the proof.
    struct Claim {
        uint256 requestId;
        uint256 outputCommitment;
        uint64 nIn;
        uint64 nOut;
        uint256[] ciphertext;
    }

    /// Limbs of the KZG accumulator that lead an aggregation proof's instances.
    uint256 internal constant ACCUMULATOR_LIMBS = 12;

    uint256 public modelCount;
    mapping(uint256 => Model) public models;
    mapping(uint256 => Request) public requests;
    /// modelId => requests per proof => batch verifier.
    mapping(uint256 => mapping(uint256 => BatchVerifier)) public batchVerifiers;
    /// token => account => amount that account may withdraw.
    mapping(address => mapping(address => uint256)) public credits;

    /// Transient storage slot of the reentrancy lock (EIP-1153): it costs 100 gas a touch where
    /// a storage lock cost a cold read and a write, and it clears itself when the transaction ends.
    uint256 private constant LOCK_SLOT = uint256(keccak256("zkinfer.settlement.lock"));

    event ModelRegistered(
        uint256 indexed modelId,
        address verifier,
        address indexed owner,
        address indexed provider,
        uint16 royaltyBps,
        uint256 priceIn,
        uint256 priceOut,
        address token,
        uint16 cipherWords
    );
    event RequestOpened(
        uint256 indexed requestId,
        uint256 indexed modelId,
        address indexed client,
        uint256 inputCommitment,
        uint64 maxIn,
        uint64 maxOut,
        uint64 deadline,
        uint256 escrow
    );
    event RequestSettled(
        uint256 indexed requestId,
        uint256 outputCommitment,
        uint64 nIn,
        uint64 nOut,
        uint256 providerAmount,
        uint256 royalty,
        uint256 refund,
        uint256[] ciphertext
    );
    event BatchVerifierRegistered(uint256 indexed modelId, uint256 requests, address verifier, uint32 index);
    event RequestRefunded(uint256 indexed requestId, uint256 amount);
    event Withdrawn(address indexed token, address indexed account, uint256 amount);

    error InvalidModel();
    error VerifierHasNoCode();
    error RoyaltyTooHigh();
    error UnknownModel();
    error NotInField();
    error DeadlineInPast();
    error WrongPayment();
    error TransferFailed();
    error NotOpen();
    error DeadlinePassed();
    error DeadlineNotReached();
    error UsageExceedsRequest();
    error InvalidProof();
    error NothingToWithdraw();
    error ZeroCostRequest();
    error WrongCiphertextLength();
    error RequestExists();
    error Reentrancy();
    error NotModelOwner();
    error BatchVerifierExists();
    error NoBatchVerifier();
    error WrongModel();
    error BatchVerifierTooNew();
    error DeadlineTooFar();
    error EscrowTooLarge();

    modifier nonReentrant() {
        _lock();
        _;
        _unlock();
    }

    // Functions rather than the modifier's own locals, which would stay on the stack through
    // every guarded body.
    function _lock() private {
        uint256 slot = LOCK_SLOT;
        uint256 held;
        assembly ("memory-safe") {
            held := tload(slot)
        }
        if (held != 0) revert Reentrancy();
        assembly ("memory-safe") {
            tstore(slot, 1)
        }
    }

    function _unlock() private {
        uint256 slot = LOCK_SLOT;
        assembly ("memory-safe") {
            tstore(slot, 0)
        }
    }

    function registerModel(
        address verifier,
        address owner,
        address provider,
        uint16 royaltyBps,
        uint256 priceIn,
        uint256 priceOut,
        address token
    ) external nonReentrant returns (uint256 modelId) {
        if (owner == address(0) || provider == address(0)) revert InvalidModel();
        if (verifier.code.length == 0) revert VerifierHasNoCode();
        if (token != ETH && token.code.length == 0) revert InvalidModel();
        if (royaltyBps > 10_000) revert RoyaltyTooHigh();
        if (priceIn > type(uint96).max || priceOut > type(uint96).max) revert InvalidModel();
        uint16 cipherWords = _cipherWords(verifier);
        modelId = ++modelCount;
        // Requests store the id in 32 bits: a model past that could never be used.
        if (modelId > type(uint32).max) revert InvalidModel();
        models[modelId] = Model(
            verifier, royaltyBps, cipherWords, 0, owner, uint96(priceIn), provider, uint96(priceOut), token
        );
        emit ModelRegistered(modelId, verifier, owner, provider, royaltyBps, priceIn, priceOut, token, cipherWords);
    }

    /// The ciphertext words of the verifier's statement: its instances beyond the five usage ones.
    function _cipherWords(address verifier) private view returns (uint16) {
        try IUsageVerifier(verifier).numInstances() returns (uint256 n) {
            if (n < 5 || n - 5 > type(uint16).max) revert InvalidModel();
            return uint16(n - 5);
        } catch {
            revert InvalidModel();
        }
    }

    /// @notice Registers, for the model's owner, a verifier of aggregation proofs over
    /// `numRequests()` of the model's requests. It must state the model's instance layout; one
    /// per N, never replaced, and usable only for requests opened after this call.
    function registerBatchVerifier(uint256 modelId, address verifier) external nonReentrant {
        Model storage m = models[modelId];
        if (m.verifier == address(0)) revert UnknownModel();
        if (msg.sender != m.owner) revert NotModelOwner();
        if (verifier.code.length == 0) revert VerifierHasNoCode();
        uint256 n;
        uint256 instances;
        try IBatchVerifier(verifier).numRequests() returns (uint256 got) {
            n = got;
        } catch {
            revert InvalidModel();
        }
        try IBatchVerifier(verifier).numInstances() returns (uint256 got) {
            instances = got;
        } catch {
            revert InvalidModel();
        }
        if (n == 0 || n > type(uint16).max || instances != ACCUMULATOR_LIMBS + n * (5 + uint256(m.cipherWords))) {
            revert InvalidModel();
        }
        if (batchVerifiers[modelId][n].verifier != address(0)) revert BatchVerifierExists();
        uint16 index = ++m.batchVerifiers;
        batchVerifiers[modelId][n] = BatchVerifier(verifier, index);
        emit BatchVerifierRegistered(modelId, n, verifier, index);
    }

    /// @notice The escrow a request with these limits needs.
    function maxCost(uint256 modelId, uint64 maxIn, uint64 maxOut) public view returns (uint256) {
        Model storage m = models[modelId];
        return uint256(maxIn) * m.priceIn + uint256(maxOut) * m.priceOut;
    }

    /// @notice The id of the request `client` opens with `nonce`: the `request_id` instance the
    /// provider must prove, and what the client's input commitment is bound to. It depends on the
    /// opener, so no one else can open a request under it: a client commits before it opens
    /// without racing anyone for the id (a shared counter let a free request taken first make the
    /// client's commitment unprovable and lock its escrow).
    function requestIdFor(address client, uint64 nonce) public view returns (uint256) {
        return uint256(keccak256(abi.encode(block.chainid, address(this), client, nonce))) % R;
    }

    /// @notice Opens the request `requestIdFor(msg.sender, nonce)` and escrows its maximum cost
    /// (ETH as `msg.value`, or an ERC-20 the client approved). A request that could cost nothing
    /// is refused: it would pay no one and only occupy the provider.
    function openRequest(
        uint256 modelId,
        uint64 nonce,
        uint256 inputCommitment,
        uint64 maxIn,
        uint64 maxOut,
        uint64 deadline
    ) external payable nonReentrant returns (uint256 requestId) {
        Model storage m = models[modelId];
        if (m.verifier == address(0)) revert UnknownModel();
        if (inputCommitment >= R) revert NotInField();
        if (deadline <= block.timestamp) revert DeadlineInPast();
        if (deadline > type(uint40).max) revert DeadlineTooFar();
        requestId = requestIdFor(msg.sender, nonce);
        if (requests[requestId].status != Status.None) revert RequestExists();
        uint256 cost = maxCost(modelId, maxIn, maxOut);
        if (cost == 0) revert ZeroCostRequest();
        if (cost > type(uint128).max) revert EscrowTooLarge();
        uint256 escrow;
        if (m.token == ETH) {
            if (msg.value != cost) revert WrongPayment();
            escrow = cost;
        } else {
            if (msg.value != 0) revert WrongPayment();
            // Count what arrived, not what was asked for: a fee-on-transfer token delivers less.
            uint256 before = IERC20Minimal(m.token).balanceOf(address(this));
            _safeTransferFrom(m.token, msg.sender, cost);
            escrow = IERC20Minimal(m.token).balanceOf(address(this)) - before;
            if (escrow < cost || escrow > type(uint128).max) revert WrongPayment();
        }
        // Registered ids are below 2^32 (`registerModel`), so the narrowing keeps the id.
        requests[requestId] = Request(
            msg.sender,
            Status.Open,
            uint40(deadline),
            uint32(modelId),
            m.batchVerifiers,
            maxIn,
            maxOut,
            uint128(escrow),
            inputCommitment
        );
        emit RequestOpened(requestId, modelId, msg.sender, inputCommitment, maxIn, maxOut, deadline, escrow);
    }

    /// @notice Settles a request with a proof. The instances are built here from the request, the
    /// claimed usage and the output ciphertext, so a proof for anything else fails verification;
    /// the ciphertext is published in `RequestSettled` for the client to decrypt. Anyone may
    /// submit; the registered provider is paid.
    function settle(
        uint256 requestId,
        bytes calldata proof,
        uint256 outputCommitment,
        uint64 nIn,
        uint64 nOut,
        uint256[] calldata ciphertext
    ) external nonReentrant {
        Request storage r = requests[requestId];
        _claimable(r, nIn, nOut);
        Model storage m = models[r.modelId];
        if (ciphertext.length != m.cipherWords) revert WrongCiphertextLength();
        uint256[] memory instances = new uint256[](5 + ciphertext.length);
        _statement(instances, 0, requestId, r.inputCommitment, outputCommitment, nIn, nOut, ciphertext);
        if (!IUsageVerifier(m.verifier).verify(proof, instances)) revert InvalidProof();
        (uint256 cost, uint256 royalty) = _close(r, m, requestId, outputCommitment, nIn, nOut, ciphertext);
        _credit(m, cost, royalty);
    }

    /// @notice Settles `claims.length` requests of one model with one aggregation proof, through
    /// the batch verifier registered for that N. Every claim is held to the rules of `settle`
    /// (open, before its deadline, within its maxima, of this model, the right ciphertext length)
    /// and pays exactly what its own settlement would; one bad claim reverts the whole batch.
    function settleBatch(
        uint256 modelId,
        bytes calldata proof,
        uint256[ACCUMULATOR_LIMBS] calldata accumulator,
        Claim[] calldata claims
    ) external nonReentrant {
        BatchVerifier memory bv = batchVerifiers[modelId][claims.length];
        if (bv.verifier == address(0)) revert NoBatchVerifier();
        Model storage m = models[modelId];
        uint256 per = 5 + uint256(m.cipherWords);
        uint256[] memory instances = new uint256[](ACCUMULATOR_LIMBS + claims.length * per);
        for (uint256 i = 0; i < ACCUMULATOR_LIMBS; ++i) {
            instances[i] = accumulator[i];
        }
        uint256 cost;
        uint256 royalty;
        for (uint256 i = 0; i < claims.length; ++i) {
            Claim calldata c = claims[i];
            Request storage r = requests[c.requestId];
            _claimable(r, c.nIn, c.nOut);
            if (r.modelId != modelId) revert WrongModel();
            if (r.batchVerifiers < bv.index) revert BatchVerifierTooNew();
            if (c.ciphertext.length != m.cipherWords) revert WrongCiphertextLength();
            _statement(
                instances, ACCUMULATOR_LIMBS + i * per, c.requestId, r.inputCommitment, c.outputCommitment, c.nIn, c.nOut, c.ciphertext
            );
            // Closing before the proof is checked makes a request listed twice fail `_claimable`;
            // a failed proof reverts it all.
            (uint256 c1, uint256 r1) = _close(r, m, c.requestId, c.outputCommitment, c.nIn, c.nOut, c.ciphertext);
            cost += c1;
            royalty += r1;
        }
        if (!IBatchVerifier(bv.verifier).verify(proof, instances)) revert InvalidProof();
        _credit(m, cost, royalty);
    }

    /// The rules every settled request meets.
    function _claimable(Request storage r, uint64 nIn, uint64 nOut) private view {
        if (r.status != Status.Open) revert NotOpen();
        if (block.timestamp > r.deadline) revert DeadlinePassed();
        if (nIn > r.maxIn || nOut > r.maxOut) revert UsageExceedsRequest();
    }

    /// Writes a request's statement into `instances` from `offset`, every element checked below r.
    function _statement(
        uint256[] memory instances,
        uint256 offset,
        uint256 requestId,
        uint256 inputCommitment,
        uint256 outputCommitment,
        uint64 nIn,
        uint64 nOut,
        uint256[] calldata ciphertext
    ) private pure {
        if (outputCommitment >= R) revert NotInField();
        instances[offset] = requestId;
        instances[offset + 1] = inputCommitment;
        instances[offset + 2] = outputCommitment;
        instances[offset + 3] = nIn;
        instances[offset + 4] = nOut;
        for (uint256 i = 0; i < ciphertext.length; ++i) {
            if (ciphertext[i] >= R) revert NotInField();
            instances[offset + 5 + i] = ciphertext[i];
        }
    }

    /// Marks a request settled, credits the client's refund and publishes the ciphertext; returns
    /// the cost and the royalty in it, for the caller to credit.
    function _close(
        Request storage r,
        Model storage m,
        uint256 requestId,
        uint256 outputCommitment,
        uint64 nIn,
        uint64 nOut,
        uint256[] calldata ciphertext
    ) private returns (uint256 cost, uint256 royalty) {
        r.status = Status.Settled;
        cost = uint256(nIn) * m.priceIn + uint256(nOut) * m.priceOut;
        royalty = cost * m.royaltyBps / 10_000;
        uint256 unused = r.escrow - cost;
        // Zero credits are skipped: writing a fresh storage slot costs 22k gas.
        if (unused != 0) credits[m.token][r.client] += unused;
        emit RequestSettled(requestId, outputCommitment, nIn, nOut, cost - royalty, royalty, unused, ciphertext);
    }

    /// Credits the owner's royalty and the provider's share of `cost`.
    function _credit(Model storage m, uint256 cost, uint256 royalty) private {
        if (royalty != 0) credits[m.token][m.owner] += royalty;
        if (cost != royalty) credits[m.token][m.provider] += cost - royalty;
    }

    /// @notice After the deadline, returns an unsettled request's escrow to its client. Anyone may call.
    function refund(uint256 requestId) external nonReentrant {
        Request storage r = requests[requestId];
        if (r.status != Status.Open) revert NotOpen();
        if (block.timestamp <= r.deadline) revert DeadlineNotReached();
        r.status = Status.Refunded;
        credits[models[r.modelId].token][r.client] += r.escrow;
        emit RequestRefunded(requestId, r.escrow);
    }

    /// @notice Pays out everything credited to the caller in `token` (address(0) for ETH).
    function withdraw(address token) external nonReentrant returns (uint256 amount) {
        amount = credits[token][msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[token][msg.sender] = 0;
        if (token == ETH) {
            (bool ok,) = msg.sender.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            _safeTransfer(token, msg.sender, amount);
        }
        emit Withdrawn(token, msg.sender, amount);
    }

    /// Accepts tokens that return nothing as well as those that return a bool.
    function _safeTransfer(address token, address to, uint256 amount) private {
        (bool ok, bytes memory ret) = token.call(abi.encodeCall(IERC20Minimal.transfer, (to, amount)));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TransferFailed();
    }

    function _safeTransferFrom(address token, address from, uint256 amount) private {
        (bool ok, bytes memory ret) =
            token.call(abi.encodeCall(IERC20Minimal.transferFrom, (from, address(this), amount)));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TransferFailed();
    }
}
