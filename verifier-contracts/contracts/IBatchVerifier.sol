// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

import {IUsageVerifier} from "./IUsageVerifier.sol";

/// @notice A verifier of aggregation proofs: one proof for `numRequests()` requests of one model.
/// `instances` is the KZG accumulator's 12 limbs, then each request's statement in the order it
/// was aggregated (request_id, input_commitment, output_commitment, n_in, n_out, ciphertext...).
/// `verify` accepts only when the aggregation proof is valid for those instances and the
/// accumulator passes its pairing check, which together prove every request's proof.
interface IBatchVerifier is IUsageVerifier {
    /// Requests one proof settles.
    function numRequests() external view returns (uint256);
}
