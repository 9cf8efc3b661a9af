//! A thin layer over ark-relations: [`Num`] is a linear combination with its value (absent during
//! setup), and [`Cs`] allocates variables and enforces `a · b = c` between them.

use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField};
use ark_relations::gr1cs::{ConstraintSystemRef, LinearCombination, SynthesisError, Variable};

use super::F;

pub type Result<T> = std::result::Result<T, SynthesisError>;

#[derive(Debug, Clone)]
pub struct Num {
    pub lc: LinearCombination<F>,
    pub value: Option<F>,
}

impl Num {
    pub fn constant(c: F) -> Self {
        Self {
            lc: LinearCombination(vec![(c, Variable::One)]),
            value: Some(c),
        }
    }

    fn var(v: Variable, value: Option<F>) -> Self {
        Self {
            lc: LinearCombination(vec![(F::ONE, v)]),
            value,
        }
    }

    /// `Σ k_i · x_i + c`, with the terms merged.
    pub fn sum(terms: &[(F, &Num)], c: F) -> Self {
        let mut lc = Vec::with_capacity(terms.iter().map(|(_, n)| n.lc.0.len()).sum::<usize>() + 1);
        let mut value = Some(c);
        for (k, n) in terms {
            lc.extend(n.lc.0.iter().map(|(a, v)| (*a * k, *v)));
            value = value.zip(n.value).map(|(s, x)| s + *k * x);
        }
        lc.push((c, Variable::One));
        let mut lc = LinearCombination(lc);
        lc.compactify();
        Self { lc, value }
    }

    pub fn plus(&self, o: &Num) -> Num {
        Num::sum(&[(F::ONE, self), (F::ONE, o)], F::ZERO)
    }

    pub fn minus(&self, o: &Num) -> Num {
        Num::sum(&[(F::ONE, self), (-F::ONE, o)], F::ZERO)
    }

    pub fn scale_add(&self, k: F, c: F) -> Num {
        Num::sum(&[(k, self)], c)
    }
}

#[derive(Clone)]
pub struct Cs {
    pub cs: ConstraintSystemRef<F>,
}

fn need(v: Option<F>) -> impl FnOnce() -> Result<F> {
    move || v.ok_or(SynthesisError::AssignmentMissing)
}

impl Cs {
    pub fn new(cs: ConstraintSystemRef<F>) -> Self {
        Self { cs }
    }

    pub fn witness(&self, v: Option<F>) -> Result<Num> {
        Ok(Num::var(self.cs.new_witness_variable(need(v))?, v))
    }

    pub fn input(&self, v: Option<F>) -> Result<Num> {
        Ok(Num::var(self.cs.new_input_variable(need(v))?, v))
    }

    /// `a · b = c`.
    pub fn enforce(&self, a: &Num, b: &Num, c: &Num) -> Result<()> {
        let (a, b, c) = (a.lc.clone(), b.lc.clone(), c.lc.clone());
        self.cs.enforce_r1cs_constraint(|| a, || b, || c)
    }

    pub fn equal(&self, a: &Num, b: &Num) -> Result<()> {
        self.enforce(a, &Num::constant(F::ONE), b)
    }

    /// A new variable claimed to be `a · b` (`claim` overrides the honest product in tests).
    pub fn mul_claim(&self, a: &Num, b: &Num, claim: Option<F>) -> Result<Num> {
        let c = self.witness(claim)?;
        self.enforce(a, b, &c)?;
        Ok(c)
    }

    pub fn mul(&self, a: &Num, b: &Num) -> Result<Num> {
        self.mul_claim(a, b, a.value.zip(b.value).map(|(x, y)| x * y))
    }

    /// A variable constrained to 0 or 1.
    pub fn boolean(&self, v: Option<F>) -> Result<Num> {
        let b = self.witness(v)?;
        self.enforce(&b, &b, &b)?;
        Ok(b)
    }

    /// `Σ 2^i b_i` over `n` new boolean variables holding the low bits of `v`.
    pub fn bits(&self, v: Option<F>, n: u32) -> Result<Num> {
        let bits: Option<Vec<bool>> = v.map(|x| x.into_bigint().to_bits_le());
        let mut terms = Vec::with_capacity(n as usize);
        for i in 0..n as usize {
            let b = self.boolean(
                bits.as_ref()
                    .map(|b| F::from(b.get(i).copied().unwrap_or(false))),
            )?;
            terms.push((F::from(2u64).pow([i as u64]), b));
        }
        let refs: Vec<(F, &Num)> = terms.iter().map(|(k, b)| (*k, b)).collect();
        Ok(Num::sum(&refs, F::ZERO))
    }

    /// Constrains `x ∈ [0, 2^n)`.
    pub fn range(&self, x: &Num, n: u32) -> Result<()> {
        let bits = self.bits(x.value, n)?;
        self.equal(x, &bits)
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use ark_relations::gr1cs::ConstraintSystem;

    use super::*;

    /// Runs `f` on a fresh constraint system; true when every constraint holds.
    pub fn satisfied(f: impl FnOnce(&Cs) -> Result<()>) -> bool {
        let cs = ConstraintSystem::<F>::new_ref();
        f(&Cs::new(cs.clone())).expect("synthesis");
        cs.is_satisfied().expect("assigned")
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::satisfied;
    use super::*;

    #[test]
    fn range_accepts_in_range_and_rejects_outside() {
        let check = |v: i64, n: u32| {
            satisfied(|cs| {
                let x = cs.witness(Some(F::from(v)))?;
                cs.range(&x, n)
            })
        };
        assert!(check(0, 0) && check(255, 8) && check(1 << 39, 40));
        assert!(!check(256, 8) && !check(-1, 8) && !check(1, 0) && !check(1 << 40, 40));
    }

    #[test]
    fn boolean_and_product_reject_wrong_witness() {
        assert!(!satisfied(|cs| cs.boolean(Some(F::from(2u64))).map(|_| ())));
        assert!(!satisfied(|cs| {
            let (a, b) = (
                cs.witness(Some(F::from(6u64)))?,
                cs.witness(Some(F::from(7u64)))?,
            );
            cs.mul_claim(&a, &b, Some(F::from(43u64))).map(|_| ())
        }));
        assert!(satisfied(|cs| {
            let (a, b) = (
                cs.witness(Some(F::from(6u64)))?,
                cs.witness(Some(F::from(7u64)))?,
            );
            cs.mul(&a, &b).map(|_| ())
        }));
    }
}
