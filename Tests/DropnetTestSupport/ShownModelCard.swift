import Foundation

/// What a model card page shows once a browser has rendered it (`HeadlessBrowser`): its
/// pictures and the figures a person reads, taken from the rendered document, and their
/// comparison with the `report.json` they come from.
public struct ShownModelCard {
  /// One `<img>`: its alternative text and the size it decoded to (0 when it did not load).
  public struct Picture {
    public var alt: String
    public var loaded: Bool
    public var width: Int
  }

  public var title: String
  public var sections: [String]
  public var pictures: [Picture]
  /// The per-class table's labels, precision and recall as shown, in output order.
  public var labels: [String]
  public var precision: [String]
  public var recall: [String]
  /// The confusion grid's counts, rows true class.
  public var confusion: [[Int]]
  public var validationAccuracy: String?
  public var heldOutCorrect: Int?
  public var heldOutTotal: Int?
  /// The page's height in CSS pixels.
  public var height: Int

  /// The expression `HeadlessBrowser.load` evaluates to read the page.
  public static let script = """
    (() => {
      const text = e => e ? e.textContent.trim() : null;
      const rows = [...document.querySelectorAll('#per-class tr[data-index]')];
      const cell = (t, p) => document.querySelector(
        `#confusion td[data-true="${t}"][data-predicted="${p}"]`);
      return {
        title: document.title,
        sections: [...document.querySelectorAll('section h2')].map(text),
        pictures: [...document.images].map(i => ({
          alt: i.alt, loaded: i.complete && i.naturalWidth > 0, width: i.naturalWidth })),
        labels: rows.map(r => text(r.querySelector('.label'))),
        precision: rows.map(r => text(r.querySelector('.precision'))),
        recall: rows.map(r => text(r.querySelector('.recall'))),
        confusion: rows.map((_, t) => rows.map((_, p) => cell(t, p) ? Number(text(cell(t, p))) : -1)),
        validationAccuracy: text(document.querySelector('#validation-accuracy')),
        heldOutCorrect: text(document.querySelector('#heldout-correct')),
        heldOutTotal: text(document.querySelector('#heldout-total')),
        height: document.documentElement.scrollHeight
      };
    })()
    """

  /// Reads the value `script` returned.
  public init(_ value: Any?) throws {
    guard let object = value as? [String: Any] else {
      throw TestFiles.Missing("the page reading returned \(String(describing: value))")
    }
    title = object["title"] as? String ?? ""
    sections = object["sections"] as? [String] ?? []
    pictures = (object["pictures"] as? [[String: Any]] ?? []).map {
      Picture(
        alt: $0["alt"] as? String ?? "", loaded: $0["loaded"] as? Bool ?? false,
        width: $0["width"] as? Int ?? 0)
    }
    labels = object["labels"] as? [String] ?? []
    precision = object["precision"] as? [String] ?? []
    recall = object["recall"] as? [String] ?? []
    confusion = object["confusion"] as? [[Int]] ?? []
    validationAccuracy = object["validationAccuracy"] as? String
    heldOutCorrect = (object["heldOutCorrect"] as? String).flatMap(Int.init)
    heldOutTotal = (object["heldOutTotal"] as? String).flatMap(Int.init)
    height = object["height"] as? Int ?? 0
  }

  /// Where the page's figures differ from `report` (a parsed `report.json`): labels,
  /// per-class precision and recall (three decimals, "–" when undefined), the confusion
  /// matrix, validation accuracy and the held-out count. Empty when they agree.
  public func differences(from report: [String: Any]) -> [String] {
    func fixed(_ value: Any?) -> String {
      guard let number = value as? Double else { return "–" }
      return String(format: "%.3f", number)
    }
    var found: [String] = []
    func compare<Value: Equatable>(_ what: String, _ shown: Value, _ reported: Value) {
      if shown != reported { found.append("\(what): page \(shown), report \(reported)") }
    }
    let classes = report["classes"] as? [[String: Any]] ?? []
    compare("labels", labels, report["labels"] as? [String] ?? [])
    compare("precision", precision, classes.map { fixed($0["precision"]) })
    compare("recall", recall, classes.map { fixed($0["recall"]) })
    compare("confusion matrix", confusion, report["confusionMatrix"] as? [[Int]] ?? [])
    compare("validation accuracy", validationAccuracy, fixed(report["validationAccuracy"]))
    let heldOut = report["heldOut"] as? [String: Any]
    compare("held-out correct", heldOutCorrect, heldOut?["correct"] as? Int)
    compare("held-out total", heldOutTotal, heldOut?["total"] as? Int)
    return found
  }
}
