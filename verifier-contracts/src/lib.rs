//! Where zkinfer proofs are checked on-chain. For now this crate carries the one interface every
//! generated verifier implements; verifier generation, the solc driver, the settlement contract
//! and the chains come with the on-chain work.

/// Solidity source of `IUsageVerifier`, the interface of every zkinfer verifier contract.
pub const I_USAGE_VERIFIER_SOL: &str = include_str!("../contracts/IUsageVerifier.sol");

#[cfg(test)]
mod tests {
    #[test]
    fn interface_declares_the_five_instance_verify() {
        assert!(super::I_USAGE_VERIFIER_SOL
            .contains("function verify(bytes calldata proof, uint256[5] calldata instances) external view returns (bool);"));
    }
}
