/// Per-class precision and recall and the confusion matrix of a classifier's predictions.
///
/// `confusion[t][p]` counts the examples of true class `t` predicted as `p` (rows: truth,
/// columns: prediction, both in output order). Precision of class c is the share of the
/// examples predicted as c that are c (diagonal over column sum); recall is the share of the
/// examples of c predicted as c (diagonal over row sum). Either is nil when its denominator
/// is 0 (nothing predicted as c, or no example of c): undefined, not 0 and not 1.
public struct ClassificationMetrics: Sendable, Equatable, Codable {
  /// [classCount][classCount], rows true class, columns predicted class.
  public var confusion: [[Int]]
  /// Per class, nil when nothing was predicted as the class.
  public var precision: [Double?]
  /// Per class, nil when the class had no example.
  public var recall: [Double?]
  /// Share of all examples on the diagonal (nil when there are none).
  public var accuracy: Double?

  /// Tallies `predictedClasses` against `trueClasses` (same length, indices below
  /// `classCount`).
  public init(trueClasses: [Int], predictedClasses: [Int], classCount: Int) {
    precondition(trueClasses.count == predictedClasses.count, "one prediction per example")
    var confusion = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
    for (truth, prediction) in zip(trueClasses, predictedClasses) {
      precondition((0..<classCount).contains(truth) && (0..<classCount).contains(prediction))
      confusion[truth][prediction] += 1
    }
    self.confusion = confusion
    let diagonal = (0..<classCount).map { confusion[$0][$0] }
    let predicted = (0..<classCount).map { column in confusion.reduce(0) { $0 + $1[column] } }
    let actual = confusion.map { $0.reduce(0, +) }
    precision = (0..<classCount).map {
      predicted[$0] > 0 ? Double(diagonal[$0]) / Double(predicted[$0]) : nil
    }
    recall = (0..<classCount).map {
      actual[$0] > 0 ? Double(diagonal[$0]) / Double(actual[$0]) : nil
    }
    accuracy =
      trueClasses.isEmpty ? nil : Double(diagonal.reduce(0, +)) / Double(trueClasses.count)
  }
}
