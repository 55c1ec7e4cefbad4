import DropnetDataset
import Foundation

/// Frames per class, how uneven they are, and the loss weights that even them out.
///
/// Weights are inverse frequency, scaled so that their mean over the training *samples* is 1
/// (scikit-learn's "balanced": `w_c = n / (k * n_c)`): every class then contributes the same
/// total to the loss, and the loss of a balanced dataset, hence the learning rate's effect, is
/// unchanged.
public struct ClassBalance: Sendable, Equatable {
  /// The classes, in network order.
  public var labels: [Label]
  /// Frames per class, in `labels` order.
  public var counts: [Int]

  /// Counts `samples` per class of `labels` (classes without samples count 0).
  public init(labels: [Label], samples: [TrainingSample]) {
    self.labels = labels
    let tally = Dictionary(grouping: samples, by: \.label).mapValues(\.count)
    counts = labels.map { tally[$0, default: 0] }
  }

  /// A table of given counts.
  public init(labels: [Label], counts: [Int]) {
    precondition(labels.count == counts.count, "one count per label")
    self.labels = labels
    self.counts = counts
  }

  /// All samples.
  public var total: Int { counts.reduce(0, +) }

  /// Largest class over smallest class (1 = balanced; infinity when a class is empty).
  public var imbalanceRatio: Double {
    guard let largest = counts.max(), let smallest = counts.min(), largest > 0 else { return 1 }
    return Double(largest) / Double(smallest)
  }

  /// Each class's share of the samples, in `labels` order.
  public var shares: [Double] {
    let total = Double(self.total)
    return counts.map { total > 0 ? Double($0) / total : 0 }
  }

  /// Per-class loss weights `n / (k * n_c)`, in `labels` order; throws `.tooFewFrames` when a
  /// class has no samples (it could not be learned at all).
  public func lossWeights() throws -> [Double] {
    if let empty = counts.firstIndex(of: 0) {
      throw TrainingError(
        .tooFewFrames,
        "class \(labels[empty]) has no training frames; add a movie of it or remove its folder")
    }
    let scale = Double(total) / Double(counts.count)
    return counts.map { scale / Double($0) }
  }

  /// A table for people: one line per class with count, share and weight, and a verdict
  /// naming the ratio; classes more than `warningRatio` apart are called imbalanced.
  public func report(warningRatio: Double = 1.5) -> String {
    let weights = (try? lossWeights()) ?? counts.map { _ in Double.nan }
    let width = max(5, labels.map(\.name.count).max() ?? 0)
    var lines = [
      "class".padding(toLength: width, withPad: " ", startingAt: 0) + "  frames   share  weight"
    ]
    for (index, label) in labels.enumerated() {
      lines.append(
        label.name.padding(toLength: width, withPad: " ", startingAt: 0)
          + String(
            format: "  %6ld  %5.1f%%  %6.3f", counts[index], shares[index] * 100, weights[index]))
    }
    let ratio = imbalanceRatio
    if ratio > warningRatio {
      lines.append(
        String(format: "imbalanced: the largest class has %.2fx the frames of the smallest", ratio)
          + "; the loss is weighted per class to compensate")
    } else {
      lines.append(String(format: "balanced: largest/smallest = %.2f", ratio))
    }
    return lines.joined(separator: "\n")
  }
}
