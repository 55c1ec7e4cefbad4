/// Whether a retrained model replaces the published one: pure, so tests give it numbers.
///
/// Both models are compared on the held-out photos when there are some, else the published
/// model is scored on the *current* validation frames (the daemon runs it on them); its
/// stored validation accuracy stands in only when that scoring fails. A model whose classes
/// differ from the published one's always passes: the published one cannot classify the
/// current classes at all.
public struct PublishGate: Sendable, Equatable {
  /// The gate's answer with both figures, for the log.
  public struct Decision: Sendable, Equatable {
    /// Publish or not.
    public var publish: Bool
    /// Why, in words for the log.
    public var reason: String
  }

  /// Whether the gate applies at all (`publish.gate`).
  public var enabled: Bool
  /// Accuracy the new model may lose and still pass (`publish.gate_margin`).
  public var margin: Double

  public init(enabled: Bool, margin: Double) {
    self.enabled = enabled
    self.margin = margin
  }

  /// Decides for a candidate with `candidateAccuracy` against the published model.
  /// - Parameters:
  ///   - publishedAccuracy: the published model's accuracy (on the current validation set when
  ///     `publishedScoredNow`), nil when nothing is published.
  ///   - sameClasses: whether the candidate has the published model's classes.
  ///   - forced: a rebuild, which always publishes.
  ///   - onHeldOutPhotos: the accuracies are on the held-out photos (both models scored now),
  ///     not on validation frames.
  public func decide(
    candidateAccuracy: Double, publishedAccuracy: Double?, publishedScoredNow: Bool,
    sameClasses: Bool, forced: Bool, onHeldOutPhotos: Bool = false
  ) -> Decision {
    let candidate = Self.format(candidateAccuracy)
    let measure = onHeldOutPhotos ? "held-out acc" : "val acc"
    guard let published = publishedAccuracy else {
      return Decision(publish: true, reason: "first model (\(measure) \(candidate))")
    }
    let basis =
      onHeldOutPhotos
      ? "on the held-out photos"
      : (publishedScoredNow ? "on the current validation set" : "as stored")
    let figures = "new \(measure) \(candidate), published \(Self.format(published)) \(basis)"
    if forced { return Decision(publish: true, reason: "rebuild bypasses the gate: \(figures)") }
    if !sameClasses { return Decision(publish: true, reason: "classes changed: \(figures)") }
    if !enabled { return Decision(publish: true, reason: "gate off: \(figures)") }
    // A tiny tolerance: accuracies are ratios of counts, equal ones may differ in the last bit.
    if candidateAccuracy + margin + 1e-9 >= published {
      return Decision(publish: true, reason: "not worse: \(figures)")
    }
    return Decision(
      publish: false,
      reason: "worse: \(figures) (margin \(Self.format(margin))); the published model stays")
  }

  /// Whether a candidate has the published model's classes, in any order: an app reads a
  /// classifier's classes by name, and a fresh run sorts them while a warm start keeps the
  /// published order.
  public static func sameClasses(published: [String], candidate: [String]) -> Bool {
    Set(published) == Set(candidate)
  }

  /// Three decimals.
  static func format(_ value: Double) -> String {
    let scaled = (value * 1000).rounded() / 1000
    var text = "\(scaled)"
    if let dot = text.firstIndex(of: ".") {
      let decimals = text.distance(from: dot, to: text.endIndex) - 1
      if decimals < 3 { text += String(repeating: "0", count: 3 - decimals) }
    }
    return text
  }
}
