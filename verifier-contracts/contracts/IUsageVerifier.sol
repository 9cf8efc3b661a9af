// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

/// @notice One interface for every zkinfer verifier, whatever the backend. `instances` is the usage
/// statement in order: request_id, input_commitment, output_commitment, n_in, n_out; each must be
/// below the BN254 scalar-field modulus.
interface IUsageVerifier {
    function verify(bytes calldata proof, uint256[5] calldata instances) external view returns (bool);
}
