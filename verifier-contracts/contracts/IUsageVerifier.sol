// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

/// @notice One interface for every zkinfer verifier, whatever the backend. `instances` is the usage
/// statement in order: request_id, input_commitment, output_commitment, n_in, n_out, then the
/// output ciphertext word by word; each must be below the BN254 scalar-field modulus, and there
/// must be exactly `numInstances()` of them.
interface IUsageVerifier {
    function verify(bytes calldata proof, uint256[] calldata instances) external view returns (bool);

    /// The number of public instances of this model's proofs: 5 plus its ciphertext words.
    function numInstances() external view returns (uint256);
}
