// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

import {IUsageVerifier} from "./IUsageVerifier.sol";

/// The ABI of the generated Groth16 verifier (taceo-groth16-sol): it reverts on a bad proof.
interface IGroth16Verifier {
    function verifyProof(uint256[8] calldata proof, uint256[5] calldata input) external view;
}

/// @notice Adapts a generated Groth16 verifier to IUsageVerifier. `proof` is the 256-byte EIP-197
/// encoding (A, B, C); the pairing precompile refuses coordinates at or above p, and this adapter
/// refuses instances at or above r.
contract Groth16UsageVerifier is IUsageVerifier {
    uint256 internal constant R = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    IGroth16Verifier public immutable groth16Verifier;

    /// `parts` is the generated verifier (one contract), as for every zkinfer adapter.
    constructor(address[] memory parts) {
        require(parts.length == 1, "wrong number of verifier parts");
        groth16Verifier = IGroth16Verifier(parts[0]);
    }

    function verify(bytes calldata proof, uint256[5] calldata instances) external view returns (bool) {
        if (proof.length != 256) return false;
        for (uint256 i = 0; i < 5; ++i) {
            if (instances[i] >= R) return false;
        }
        uint256[8] memory points = abi.decode(proof, (uint256[8]));
        try groth16Verifier.verifyProof(points, instances) {
            return true;
        } catch {
            return false;
        }
    }
}
