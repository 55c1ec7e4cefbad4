import DropnetMedia
import DropnetStorage
import Foundation

/// The per-epoch record of a training run: `history.csv` and `curves.png`.
public struct TrainingHistory: Sendable, Equatable {
  /// One epoch's figures; NaN where a figure was not measured (e.g. no validation set).
  public struct Epoch: Sendable, Equatable {
    /// 1-based epoch number.
    public var epoch: Int
    public var loss: Double
    public var accuracy: Double
    public var validationLoss: Double
    public var validationAccuracy: Double
    public var learningRate: Double
    /// Wall-clock seconds of the epoch, validation included.
    public var seconds: Double

    public init(
      epoch: Int, loss: Double, accuracy: Double, validationLoss: Double,
      validationAccuracy: Double, learningRate: Double, seconds: Double
    ) {
      self.epoch = epoch
      self.loss = loss
      self.accuracy = accuracy
      self.validationLoss = validationLoss
      self.validationAccuracy = validationAccuracy
      self.learningRate = learningRate
      self.seconds = seconds
    }

    // NaN != NaN would make an unmeasured figure unequal to itself.
    public static func == (left: Epoch, right: Epoch) -> Bool {
      func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
      return left.epoch == right.epoch && same(left.loss, right.loss)
        && same(left.accuracy, right.accuracy) && same(left.validationLoss, right.validationLoss)
        && same(left.validationAccuracy, right.validationAccuracy)
        && same(left.learningRate, right.learningRate) && same(left.seconds, right.seconds)
    }
  }

  /// Which figure picks the best epoch.
  public enum Monitor: String, Sendable, Hashable, CaseIterable {
    /// Lowest validation loss (the default).
    case validationLoss = "val_loss"
    /// Highest validation accuracy.
    case validationAccuracy = "val_accuracy"
    /// Lowest training loss (when there is no validation set).
    case loss = "loss"
  }

  /// The CSV header, in Keras' `CSVLogger` names.
  public static let header = "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds"

  /// Epochs in order.
  public var epochs: [Epoch] = []

  public init(epochs: [Epoch] = []) { self.epochs = epochs }

  /// Parses `history.csv` text (as written by `csv`), e.g. to continue a run.
  public init(csv: String) throws {
    let lines = csv.split(whereSeparator: \.isNewline)
    guard lines.first.map(String.init) == Self.header else {
      throw TrainingError(
        .io, "a history must start with the header \(Self.header); is this a history.csv?")
    }
    for (number, line) in lines.dropFirst().enumerated() {
      let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      guard fields.count == 7, let epoch = Int(fields[0]) else {
        throw TrainingError(.io, "history line \(number + 2) is not 7 fields: \(line)")
      }
      let values = fields.dropFirst().map { $0.isEmpty ? Double.nan : Double($0) }
      guard values.allSatisfy({ $0 != nil }) else {
        throw TrainingError(.io, "history line \(number + 2) has a field that is not a number")
      }
      let numbers = values.map { $0! }
      epochs.append(
        Epoch(
          epoch: epoch, loss: numbers[0], accuracy: numbers[1], validationLoss: numbers[2],
          validationAccuracy: numbers[3], learningRate: numbers[4], seconds: numbers[5]))
    }
  }

  /// Adds an epoch.
  public mutating func append(_ epoch: Epoch) { epochs.append(epoch) }

  /// The best epoch by `monitor` (the earliest of equals), or nil when none was measured.
  public func best(by monitor: Monitor = .validationLoss) -> Epoch? {
    var best: Epoch?
    for epoch in epochs where !value(of: epoch, monitor).isNaN {
      guard let current = best else {
        best = epoch
        continue
      }
      let (candidate, incumbent) = (value(of: epoch, monitor), value(of: current, monitor))
      // Strictly better only: the earliest of equals is the one a checkpoint kept.
      let better = monitor == .validationAccuracy ? candidate > incumbent : candidate < incumbent
      if better { best = epoch }
    }
    return best
  }

  private func value(of epoch: Epoch, _ monitor: Monitor) -> Double {
    switch monitor {
    case .validationLoss: epoch.validationLoss
    case .validationAccuracy: epoch.validationAccuracy
    case .loss: epoch.loss
    }
  }

  /// The CSV text: the header, then one line per epoch; an unmeasured figure is empty.
  /// Numbers are written in their shortest exact form, so parsing gives them back unchanged.
  public var csv: String {
    func field(_ value: Double) -> String { value.isNaN ? "" : "\(value)" }
    var lines = [Self.header]
    for row in epochs {
      let figures = [
        row.loss, row.accuracy, row.validationLoss, row.validationAccuracy, row.learningRate,
        row.seconds,
      ]
      lines.append(([String(row.epoch)] + figures.map(field)).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// Writes `history.csv` atomically (temp file, fsync, rename).
  public func writeCSV(to url: URL) throws {
    do {
      try AtomicFile.write(Data(csv.utf8), to: url)
    } catch {
      throw TrainingError(.io, path: error.path, "\(error)")
    }
  }

  /// The epoch numbered `number` (1-based), nil when there is none.
  public func epoch(_ number: Int) -> Epoch? { epochs.first { $0.epoch == number } }

  /// Draws the loss plot above the accuracy plot (train blue, validation orange, by epoch)
  /// into one PNG at `url`, written atomically. Loss starts at 0 and accuracy spans 0-1, so
  /// runs compare at a glance; `bestEpoch` (the one training kept; nil: none) gets a dashed
  /// line labelled "best".
  public func writeCurves(to url: URL, bestEpoch: Int?) throws {
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("dropnet-curves-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let train = (red: UInt8(31), green: UInt8(119), blue: UInt8(180))
    let validation = (red: UInt8(255), green: UInt8(127), blue: UInt8(14))
    var loss = LinePlot(
      title: "loss", xLabel: "epoch",
      series: [
        .init(name: "train", values: epochs.map(\.loss), color: train),
        .init(name: "validation", values: epochs.map(\.validationLoss), color: validation),
      ])
    loss.yMinimum = 0
    var accuracy = LinePlot(
      title: "accuracy", xLabel: "epoch",
      series: [
        .init(name: "train", values: epochs.map(\.accuracy), color: train),
        .init(name: "validation", values: epochs.map(\.validationAccuracy), color: validation),
      ])
    accuracy.yMinimum = 0
    accuracy.yMaximum = 1
    var plots = [loss, accuracy]
    if let best = bestEpoch,
      let index = epochs.firstIndex(where: { $0.epoch == best })
    {
      for plot in plots.indices {
        plots[plot].markedPoint = index
        plots[plot].markLabel = "best \(best)"
      }
    }
    var images: [Image] = []
    for (index, plot) in plots.enumerated() {
      let path = scratch.appendingPathComponent("\(index).png").path
      try plot.write(to: path)
      images.append(try Image(contentsOf: path))
    }
    // Same width by construction (LinePlot's default), so rows simply stack.
    let combined = try Image(
      bytes: images.flatMap(\.bytes), width: images[0].width,
      height: images.reduce(0) { $0 + $1.height }, channelCount: 3)
    let staged = scratch.appendingPathComponent("curves.png")
    try combined.write(to: staged.path)
    let png = try Data(contentsOf: staged)
    do {
      try AtomicFile.write(png, to: url)
    } catch {
      throw TrainingError(.io, path: error.path, "\(error)")
    }
  }
}
