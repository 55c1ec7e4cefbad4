/// A deterministic random number generator (SplitMix64): the same seed gives the same
/// sequence on every platform and Swift version, unlike `SystemRandomNumberGenerator`.
public struct SeededRandom: RandomNumberGenerator, Sendable {
  private var state: UInt64

  /// A generator whose whole sequence is fixed by `seed`.
  public init(seed: UInt64) { state = seed }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    // SplitMix64 constants (Steele, Lea, Flood 2014): the golden-ratio increment and the
    // two multipliers of its finaliser.
    state &+= 0x9E37_79B9_7F4A_7C15
    var mixed = state
    mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
    mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
    return mixed ^ (mixed >> 31)
  }

  /// A uniform value in `range` (a point range gives its bound), drawn from 53 bits.
  public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
    guard range.lowerBound < range.upperBound else { return range.lowerBound }
    let unit = Double(next() >> 11) / Double(1 << 53)
    return range.lowerBound + unit * (range.upperBound - range.lowerBound)
  }

  /// Shuffles `array` in place (Fisher-Yates); the order depends only on the seed and the
  /// draws before, never on the standard library's algorithm.
  public mutating func shuffle<Element>(_ array: inout [Element]) {
    guard array.count > 1 else { return }
    for index in stride(from: array.count - 1, to: 0, by: -1) {
      let other = Int(next() % UInt64(index + 1))
      array.swapAt(index, other)
    }
  }
}

extension SeededRandom {
  /// `count` values uniform in `range`, as Float.
  public mutating func uniform(_ count: Int, in range: ClosedRange<Float>) -> [Float] {
    (0..<count).map { _ in Float.random(in: range, using: &self) }
  }
}
