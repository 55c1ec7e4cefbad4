/// A small deterministic generator (xorshift64*) for benchmark data; quality is irrelevant here.
struct BenchmarkRandom {
  private var state: UInt64

  init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

  /// Uniform in [-1, 1).
  mutating func nextUnit() -> Float {
    state ^= state >> 12
    state ^= state << 25
    state ^= state >> 27
    let bits = (state &* 0x2545_F491_4F6C_DD1D) >> 40  // 24 random bits: a float's mantissa
    return Float(bits) / Float(1 << 23) - 1
  }
}
