import DropnetDataset
import DropnetStorage
import DropnetTraining
import Foundation

/// A model card as one self-contained HTML page: the model and how to use it, the data (every
/// movie with sample thumbnails of its kept and dropped frames), the training (learning
/// curves, kept epoch, the gate's verdict), the quality (per-class precision and recall, the
/// confusion matrix as a coloured grid, the mistakes as thumbnails) and the history of
/// published versions. Plain HTML and inline CSS, no script; pictures inlined
/// (`ModelCardPictures`); a Content-Security-Policy forbids loading anything else.
///
/// Figures a test (or a person) reads have stable ids and classes: `#validation-accuracy`,
/// `#heldout-accuracy`, `#per-class tr[data-index] .precision/.recall`, and
/// `#confusion td[data-true][data-predicted]`.
public struct ModelCardPage {
  /// Where the page is written, which decides its links to the model files.
  public enum Location: Equatable, Sendable {
    /// Beside the model files (`OUTPUT/<name>.html`).
    case besideModel
    /// In the versions folder beside that version's files (`OUTPUT/versions/<name>-<v>.html`).
    case versionsFolder
    /// In `folder`, anywhere: links lead from there to the card's folder.
    case folder(URL)
  }

  /// What the page shows.
  public var card: ModelCard
  /// The published versions to list, oldest first, the card's own included (empty: none).
  public var history: [ModelCard]
  /// The pictures, shared by the pages of one card.
  public var pictures: ModelCardPictures
  public var location: Location

  /// Most validation or held-out mistakes shown as thumbnails (the rest are counted).
  public static let mistakesShown = 24

  public init(
    card: ModelCard, history: [ModelCard] = [], pictures: ModelCardPictures,
    location: Location
  ) {
    self.card = card
    self.history = history
    self.pictures = pictures
    self.location = location
  }

  /// The page.
  public var html: String {
    let title = card.name + (card.version.map { " v\($0)" } ?? "")
    return """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
      <title>\(HTML.escape(title)) · dropnet model card</title>
      <style>\(Self.style)</style>
      </head>
      <body>
      \(header)
      <nav><a href="#model">Model</a><a href="#data">Data</a><a href="#training">Training</a><a href="#quality">Quality</a><a href="#history">History</a></nav>
      \(modelSection)
      \(dataSection)
      \(trainingSection)
      \(qualitySection)
      \(historySection)
      <footer>Made by dropnet \(HTML.escape(card.dropnetVersion)). This page is one file: its pictures are inside it and it loads nothing.</footer>
      </body>
      </html>

      """
  }

  /// Writes `html` to `url` atomically, making its folder when needed. Throws
  /// `ModelCardError`.
  public static func write(_ html: String, to url: URL) throws {
    do {
      try FileManager.default.createDirectory(
        at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try AtomicFile.write(Data(html.utf8), to: url)
    } catch {
      throw ModelCardError("cannot write the page: \(error)")
    }
  }

  // MARK: Sections

  private var header: String {
    var facts = [
      card.version.map { "version \($0)" } ?? "a training run (not published)",
      (card.version == nil ? "trained " : "published ") + Self.date(card.date),
      "\(card.labels.count) classes",
    ]
    if let accuracy = card.validationAccuracy {
      facts.append("validation accuracy \(Self.fixed(accuracy))")
    }
    if let heldOut = card.report?.heldOut {
      facts.append("held-out photos \(heldOut.correct)/\(heldOut.total)")
    }
    return """
      <header><h1>\(HTML.escape(card.name))\(card.version.map { " <span class=\"version\">v\($0)</span>" } ?? "")</h1>
      <p>\(facts.map(HTML.escape).joined(separator: " · "))</p></header>
      """
  }

  private var modelSection: String {
    let chips = card.labels.map { "<span class=\"chip\">\(HTML.escape($0))</span>" }.joined()
    let files = card.files.map { file in
      let link =
        fileHref(file).map { "<a href=\"\(HTML.href($0))\">\(HTML.escape(file.name))</a>" }
        ?? HTML.escape(file.name)
      return """
        <tr><td>\(HTML.escape(file.format))</td><td>\(link)</td><td class="number">\(Self.bytes(file.byteCount))</td><td>\(HTML.escape(file.runtime ?? ""))</td><td><code title="\(HTML.escape(file.sha256 ?? ""))">\(HTML.escape(file.sha256.map { String($0.prefix(12)) } ?? "–"))</code></td></tr>
        """
    }.joined(separator: "\n")
    // The first language open, the others a click away: the section stays short.
    let usage = card.usage.enumerated().map { index, usage in
      "<details\(index == 0 ? " open" : "")><summary>\(HTML.escape(usage.language))</summary>\n"
        + "<pre><code>\(HTML.escape(usage.code))</code></pre></details>"
    }.joined(separator: "\n")
    return """
      <section id="model"><h2>Model</h2>
      <dl class="facts">
      <dt>classes</dt><dd class="chips">\(chips)</dd>
      <dt>crop policy</dt><dd>\(HTML.escape(Self.cropPolicy(card)))</dd>
      <dt>network</dt><dd>MobileNet v1 (ImageNet), 224×224 RGB input, fine-tuned: \(HTML.escape(card.mode))</dd>
      </dl>
      <table class="files"><tr><th>format</th><th>file</th><th>size</th><th>runs on</th><th>SHA-256</th></tr>
      \(files)
      </table>
      \(usage)
      </section>
      """
  }

  private var dataSection: String {
    let byLabel = Dictionary(grouping: card.movies, by: \.label)
    let others = byLabel.keys.filter { !card.labels.contains($0) }.sorted()
    let classes = (card.labels + others).compactMap { label in
      byLabel[label].map { (label, $0) }
    }
    let totals = card.movies.filter(\.trained)
    let summary =
      "\(totals.count) movies, \(totals.reduce(0) { $0 + $1.keptFrames }) frames kept, "
      + "\(totals.reduce(0) { $0 + $1.blurredFrames }) blurred and "
      + "\(totals.reduce(0) { $0 + $1.duplicateFrames }) near-duplicate frames dropped"
    let blocks = classes.map { label, movies in
      let kept = movies.reduce(0) { $0 + $1.keptFrames }
      let blurred = movies.reduce(0) { $0 + $1.blurredFrames }
      let duplicates = movies.reduce(0) { $0 + $1.duplicateFrames }
      let note = card.labels.contains(label) ? "" : " · not in this model (too few frames)"
      let rows = movies.map(movieRow).joined(separator: "\n")
      return """
        <tbody><tr class="class"><th colspan="6">\(HTML.escape(label)) <small>\(movies.count) movie\(movies.count == 1 ? "" : "s") · \(kept) kept · \(blurred) blurred · \(duplicates) near-duplicate\(HTML.escape(note))</small></th></tr>
        \(rows)
        </tbody>
        """
    }.joined(separator: "\n")
    let table = """
      <table class="movies"><thead><tr><th>movie</th><th>length</th><th>kept</th><th>blurred</th><th>near-duplicate</th><th>sample frames: kept, then dropped</th></tr></thead>
      \(blocks)
      </table>
      """
    return """
      <section id="data"><h2>Data</h2>
      <p>\(HTML.escape(summary)). A frame is <em>blurred</em> when it is much less sharp than its own movie's median, a <em>near-duplicate</em> when it looks like the last kept frame; neither is trained on.</p>
      \(blocks.isEmpty ? "<p>No movies.</p>" : table)
      </section>
      """
  }

  private func movieRow(_ movie: ModelCard.Movie) -> String {
    let sampled = movie.keptFrames + movie.blurredFrames + movie.duplicateFrames
    let dropped = movie.blurredFrames + movie.duplicateFrames
    // Half the frames dropped means a shaky, blurred or static movie: flagged at a glance.
    let warning =
      sampled > 0 && dropped * 2 >= sampled
      ? " <span class=\"warning\">most frames dropped</span>" : ""
    let strip = movie.samples.map { sample in
      let kind = sample.dropReason.map(Self.reasonText) ?? "kept"
      let caption = "\(movie.path), frame \(sample.index) (\(kind))"
      // "duplicate" rather than "near-duplicate": the tag must fit on a thumbnail.
      let tag = sample.dropReason.map { "<b>\($0 == .blurred ? "blurred" : "duplicate")</b>" } ?? ""
      return
        "<span class=\"thumb \(sample.dropReason?.rawValue ?? "kept")\">"
        + image(pictures.frame(movie.relativePath(of: sample)), caption) + tag + "</span>"
    }.joined()
    return """
      <tr class="\(warning.isEmpty ? "" : "bad")"><td>\(HTML.escape(movie.path))\(warning)</td><td class="number">\(String(format: "%.1f", movie.seconds)) s</td><td class="number">\(movie.keptFrames)</td><td class="number">\(movie.blurredFrames)</td><td class="number">\(movie.duplicateFrames)</td><td class="strip">\(strip)</td></tr>
      """
  }

  private var trainingSection: String {
    let report = card.report
    var facts: [(String, String)] = [
      ("trained by", "\(card.trainedBy), mode \(card.mode)"),
      (
        "epochs",
        "\(card.epochs.count), kept epoch \(card.bestEpoch) (the lowest validation loss)"
      ),
    ]
    if let seconds = card.seconds { facts.append(("time", Self.duration(seconds))) }
    if let report {
      let training = report.classes.reduce(0) { $0 + $1.trainingFrames }
      let validation = report.classes.reduce(0) { $0 + $1.validationFrames }
      facts.append(
        (
          "frames",
          "\(training) training, \(validation) validation (split \(report.settings.split), "
            + "whole movies or a time block apart)"
        ))
    }
    let list = facts.map { "<dt>\(HTML.escape($0.0))</dt><dd>\(HTML.escape($0.1))</dd>" }
      .joined()
    let gate: String
    if let decision = card.gate {
      gate = """
        <div class="gate"><b>Publish gate: published.</b> \(HTML.escape(decision.verdict))
        <table><tr><th></th><th>\(HTML.escape(decision.measure))</th></tr>
        <tr><td>this model</td><td class="number" id="gate-candidate">\(Self.fixed(decision.candidate))</td></tr>
        <tr><td>the model it replaced</td><td class="number" id="gate-published">\(decision.published.map { Self.fixed($0) } ?? "none (first model)")</td></tr></table></div>
        """
    } else {
      gate =
        "<div class=\"gate\"><b>Not gated:</b> a training run is compared with nothing; "
        + "the daemon gates what it publishes.</div>"
    }
    // Shown at 3/4 of its size: the two plots then fit beside the facts.
    let curves =
      pictures.curves(of: card).map {
        "<img class=\"curves\" src=\"\($0.dataURI)\" width=\"\($0.width * 3 / 4)\" height=\"\($0.height * 3 / 4)\" alt=\"learning curves: loss and accuracy by epoch, training and validation\">"
      } ?? "<p>No learning curves.</p>"
    return """
      <section id="training"><h2>Training</h2>
      <div class="columns"><div>
      <dl class="facts">\(list)</dl>
      \(gate)
      </div><div>
      <h3>Learning curves <small>training blue, validation orange; the kept epoch dashed</small></h3>
      \(curves)
      </div></div>
      </section>
      """
  }

  private var qualitySection: String {
    guard let report = card.report else {
      return """
        <section id="quality"><h2>Quality</h2><p>This training kept no report: no per-class figures.</p></section>
        """
    }
    var figures = [
      "<span class=\"figure\"><b id=\"validation-accuracy\">\(Self.fixed(report.validationAccuracy))</b> validation accuracy (\(report.classes.reduce(0) { $0 + $1.validationFrames }) frames)</span>"
    ]
    if let heldOut = report.heldOut {
      figures.append(
        "<span class=\"figure\"><b id=\"heldout-accuracy\">\(Self.fixed(heldOut.accuracy))</b> on held-out photos (<span id=\"heldout-correct\">\(heldOut.correct)</span>/<span id=\"heldout-total\">\(heldOut.total)</span>, never trained on)</span>"
      )
    }
    let rows = report.classes.enumerated().map { index, figures in
      """
      <tr data-index="\(index)"><td class="label">\(HTML.escape(figures.label))</td><td class="number">\(figures.trainingFrames)</td><td class="number">\(figures.validationFrames)</td><td class="number precision">\(Self.fixed(figures.precision))</td><td class="number recall">\(Self.fixed(figures.recall))</td><td>\(Self.bar(figures.recall))</td></tr>
      """
    }.joined(separator: "\n")
    return """
      <section id="quality"><h2>Quality</h2>
      <p class="figures">\(figures.joined(separator: " "))</p>
      <h3>Per class <small>on the validation frames, kept epoch</small></h3>
      <table id="per-class"><tr><th>class</th><th>training frames</th><th>validation frames</th><th>precision</th><th>recall</th><th></th></tr>
      \(rows)
      </table>
      \(confusionMatrix(report))
      \(validationMistakes(report))
      \(heldOutMistakes(report))
      </section>
      """
  }

  private func confusionMatrix(_ report: TrainingReport) -> String {
    let labels = report.labels
    let header = labels.map { "<th scope=\"col\">\(HTML.escape($0))</th>" }.joined()
    let rows = report.confusionMatrix.enumerated().map { truth, row in
      let total = row.reduce(0, +)
      let cells = row.enumerated().map { predicted, count in
        let share = total > 0 ? Double(count) / Double(total) : 0
        return
          "<td data-true=\"\(truth)\" data-predicted=\"\(predicted)\" style=\"\(Self.cellStyle(share, diagonal: truth == predicted, count: count))\" title=\"\(HTML.escape("\(labels[truth]) predicted as \(labels[predicted]): \(count) of \(total)"))\">\(count)</td>"
      }.joined()
      return "<tr><th scope=\"row\">\(HTML.escape(labels[truth]))</th>\(cells)</tr>"
    }.joined(separator: "\n")
    return """
      <h3>Confusion matrix <small>rows: true class, columns: predicted; green is right, red is wrong, darker is more</small></h3>
      <table id="confusion"><tr><th>true \\ predicted</th>\(header)</tr>
      \(rows)
      </table>
      """
  }

  private func validationMistakes(_ report: TrainingReport) -> String {
    guard let mistakes = report.validationMistakes else { return "" }
    let frames = report.classes.reduce(0) { $0 + $1.validationFrames }
    // Spread over the whole list: neighbouring frames of one movie tend to fail together.
    let figures = ModelCard.spread(mistakes, Self.mistakesShown).map {
      mistake(
        pictures.frame($0.frame), label: $0.label, predicted: $0.predicted, source: $0.movie)
    }.joined()
    return """
      <h3>Validation mistakes <small>\(mistakes.count) of \(frames) frames</small></h3>
      \(mistakes.isEmpty ? "<p>None: every validation frame is right.</p>" : "<div class=\"mistakes\">\(figures)</div>")
      \(mistakes.count > Self.mistakesShown ? "<p>Shown: \(Self.mistakesShown) of them, evenly spread.</p>" : "")
      """
  }

  private func heldOutMistakes(_ report: TrainingReport) -> String {
    guard let heldOut = report.heldOut else {
      return
        "<h3>Held-out photos</h3><p>None: put photos never filmed in <code>DROP/.heldout/&lt;label&gt;/</code> to see how the model does on them.</p>"
    }
    let figures = ModelCard.spread(heldOut.mistakes, Self.mistakesShown).map {
      mistake(
        pictures.thumbnail(path: $0.photo), label: $0.label, predicted: $0.predicted,
        source: ($0.photo as NSString).lastPathComponent,
        probability: $0.probability)
    }.joined()
    return """
      <h3>Held-out mistakes <small>\(heldOut.mistakes.count) of \(heldOut.total) photos</small></h3>
      \(heldOut.mistakes.isEmpty ? "<p>None: every held-out photo is right.</p>" : "<div class=\"mistakes\">\(figures)</div>")
      \(heldOut.mistakes.count > Self.mistakesShown ? "<p>Shown: \(Self.mistakesShown) of them, evenly spread.</p>" : "")
      """
  }

  private func mistake(
    _ picture: ModelCardPictures.Picture?, label: String, predicted: String, source: String,
    probability: Double? = nil
  ) -> String {
    let caption = "\(source): \(label), predicted \(predicted)"
    let confidence = probability.map { " <small>(\(Self.fixed($0)))</small>" } ?? ""
    return """
      <figure>\(image(picture, caption))<figcaption><span class="true">\(HTML.escape(label))</span> → <span class="predicted">\(HTML.escape(predicted))</span>\(confidence)<br><small>\(HTML.escape(source))</small></figcaption></figure>
      """
  }

  private var historySection: String {
    guard !history.isEmpty else {
      return """
        <section id="history"><h2>History</h2><p>A training run has no published versions; the daemon's pages list every version it keeps.</p></section>
        """
    }
    var rows: [String] = []
    for (position, version) in history.enumerated().reversed() {
      let previous = position > 0 ? history[position - 1] : nil
      let name = version.version.map { "v\($0)" } ?? "run"
      let link =
        version.version.flatMap(versionPageHref).map {
          "<a href=\"\(HTML.href($0))\">\(name)</a>"
        } ?? name
      let current = version.version == card.version ? " class=\"current\"" : ""
      let heldOut = version.report?.heldOut.map { "\($0.correct)/\($0.total)" } ?? "–"
      rows.append(
        """
        <tr\(current)><td>\(link)</td><td>\(HTML.escape(Self.date(version.date)))</td><td class="number">\(version.labels.count)</td><td class="number">\(Self.fixed(version.validationAccuracy))</td><td class="number">\(heldOut)</td><td>\(HTML.escape("\(version.trainedBy) (\(version.mode))"))</td><td>\(Self.changes(from: previous, to: version))</td></tr>
        """)
    }
    return """
      <section id="history"><h2>History</h2>
      <table id="versions"><tr><th>version</th><th>published</th><th>classes</th><th>validation accuracy</th><th>held-out</th><th>trained by</th><th>what changed</th></tr>
      \(rows.joined(separator: "\n"))
      </table>
      </section>
      """
  }

  /// What changed from `previous` to `card`, as HTML: classes and movies added and removed.
  public static func changes(from previous: ModelCard?, to card: ModelCard) -> String {
    guard let previous else { return "first version" }
    func movies(_ card: ModelCard) -> Set<String> {
      Set(card.movies.filter(\.trained).map(\.path))
    }
    var parts: [String] = []
    func list(_ sign: String, _ what: String, _ items: [String]) {
      guard !items.isEmpty else { return }
      parts.append(
        "<span class=\"\(sign == "+" ? "added" : "removed")\">\(sign) \(what) "
          + items.map(HTML.escape).joined(separator: ", ") + "</span>")
    }
    let classes = (Set(previous.labels), Set(card.labels))
    list("+", "class", card.labels.filter { !classes.0.contains($0) })
    list("−", "class", previous.labels.filter { !classes.1.contains($0) })
    list("+", "movie", movies(card).subtracting(movies(previous)).sorted())
    list("−", "movie", movies(previous).subtracting(movies(card)).sorted())
    if parts.isEmpty {
      return previous.mode == card.mode
        ? "retrained on the same movies" : "trained further (\(HTML.escape(card.mode)))"
    }
    return parts.joined(separator: "<br>")
  }

  // MARK: Links

  private var folderPrefix: String {
    switch location {
    case .besideModel: ""
    case .versionsFolder: "../"
    case .folder(let folder):
      Self.relativePath(from: folder, to: URL(fileURLWithPath: card.folder))
    }
  }

  /// The link to a model file: the version's own file from the versions folder.
  private func fileHref(_ file: ModelCard.File) -> String? {
    if location == .versionsFolder, let version = card.version,
      file.name.hasPrefix(card.name + ".")
    {
      return "\(card.name)-\(version)" + file.name.dropFirst(card.name.count)
    }
    return folderPrefix + file.name
  }

  private func versionPageHref(_ version: Int) -> String? {
    guard card.version != nil else { return nil }
    let page = "\(card.name)-\(version).html"
    return location == .versionsFolder ? page : folderPrefix + "versions/" + page
  }

  /// The relative reference from folder `from` to folder `to` (both absolute), ending in "/"
  /// unless empty.
  static func relativePath(from: URL, to: URL) -> String {
    let source = from.standardizedFileURL.pathComponents
    let target = to.standardizedFileURL.pathComponents
    var common = 0
    while common < min(source.count, target.count), source[common] == target[common] {
      common += 1
    }
    let parts =
      Array(repeating: "..", count: source.count - common) + target[common...]
    return parts.isEmpty ? "" : parts.joined(separator: "/") + "/"
  }

  // MARK: Pieces

  private func image(_ picture: ModelCardPictures.Picture?, _ caption: String) -> String {
    guard let picture else {
      return "<span class=\"missing\" title=\"\(HTML.escape(caption)): file not found\">?</span>"
    }
    return
      "<img src=\"\(picture.dataURI)\" width=\"\(picture.width)\" height=\"\(picture.height)\" alt=\"\(HTML.escape(caption))\" title=\"\(HTML.escape(caption))\">"
  }

  static func reasonText(_ reason: FrameRecord.DropReason) -> String {
    switch reason {
    case .blurred: "blurred"
    case .duplicate: "near-duplicate"
    }
  }

  static func cropPolicy(_ card: ModelCard) -> String {
    switch card.framing {
    case .centerCrop:
      "the centred square of the photo (Vision's .centerCrop): the app sets "
        + card.framing.visionOption
    case .scaleFill:
      "the whole photo squashed to a square (Vision's .scaleFill): the app sets "
        + card.framing.visionOption
    }
  }

  /// Background and text colour of a confusion cell: green on the diagonal, red off it, as
  /// dark as the share of its row.
  static func cellStyle(_ share: Double, diagonal: Bool, count: Int) -> String {
    guard count > 0 else { return "background:#f6f6f6;color:#bbb" }
    let lightness = Int((92 - 52 * share).rounded())
    let hue = diagonal ? 135 : 4
    return "background:hsl(\(hue),62%,\(lightness)%);color:\(lightness < 60 ? "#fff" : "#222")"
  }

  static func bar(_ value: Double?) -> String {
    guard let value else { return "" }
    return
      "<span class=\"bar\"><span style=\"width:\(Int((value * 100).rounded()))%\"></span></span>"
  }

  /// Three decimals, or "–" when undefined.
  static func fixed(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "–" }
    return String(format: "%.3f", value)
  }

  static func bytes(_ count: Int) -> String {
    count >= 1_000_000
      ? String(format: "%.1f MB", Double(count) / 1e6)
      : String(format: "%.0f kB", Double(count) / 1e3)
  }

  static func duration(_ seconds: Double) -> String {
    seconds < 90
      ? String(format: "%.1f s", seconds)
      : "\(Int(seconds) / 60) min \(Int(seconds) % 60) s"
  }

  /// "2026-01-31 12:00 UTC" from ISO 8601 text (as it is when it is not).
  static func date(_ iso: String) -> String {
    guard iso.count >= 16, iso.hasSuffix("Z") else { return iso }
    return iso.prefix(10) + " " + iso.dropFirst(11).prefix(5) + " UTC"
  }

  static let style = """
    body{font:15px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif;color:#222;max-width:1180px;margin:0 auto;padding:0 20px 40px;background:#fff}
    header{border-bottom:1px solid #ddd;padding:18px 0 8px}h1{margin:0;font-size:28px}h1 .version{color:#666;font-weight:400}
    header p{margin:4px 0;color:#444}nav{position:sticky;top:0;background:#fffe;padding:6px 0;border-bottom:1px solid #eee;z-index:1}
    nav a{margin-right:16px;color:#0a58ca;text-decoration:none}h2{margin:28px 0 8px;font-size:21px;border-bottom:2px solid #eee}
    h3{margin:18px 0 6px;font-size:16px}h3 small,small{color:#666;font-weight:400}
    dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}dt{color:#666}dd{margin:0}
    .chip{display:inline-block;background:#eef3fb;border:1px solid #cfdcf0;border-radius:10px;padding:0 9px;margin:0 5px 3px 0}
    table{border-collapse:collapse;margin:6px 0}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:middle}
    th{font-weight:600;color:#444}td.number{text-align:right;font-variant-numeric:tabular-nums}
    details{margin:6px 0}summary{font-weight:600;cursor:pointer}pre{background:#f6f8fa;border:1px solid #e4e7ea;border-radius:6px;padding:10px;overflow-x:auto;font-size:13px}
    .thumb{position:relative;display:inline-block;margin:1px 2px;vertical-align:middle;overflow:hidden}
    .thumb img{display:block;height:56px;width:auto;border:2px solid #8c8;border-radius:3px}.thumb.blurred img{border-color:#d55}.thumb.duplicate img{border-color:#e9a23b}
    .thumb b{position:absolute;left:3px;bottom:3px;font-size:9px;font-weight:600;white-space:nowrap;color:#fff;background:#c33d;padding:0 2px;border-radius:2px}
    .thumb.duplicate b{background:#c78000dd}tr.bad td:first-child{color:#b00}
    .warning{display:inline-block;margin-left:6px;font-size:12px;color:#fff;background:#c33;border-radius:3px;padding:0 5px}
    .missing{display:inline-block;width:64px;height:64px;line-height:64px;text-align:center;background:#eee;color:#999;border-radius:3px}
    .gate{background:#f1f8f1;border-left:4px solid #4a4;padding:6px 12px;margin:10px 0}.gate table{margin:4px 0 0}
    img.curves{max-width:100%;height:auto;border:1px solid #eee}.columns{display:flex;flex-wrap:wrap;gap:8px 32px}.columns>div{flex:1 1 420px}.columns>div:last-child{flex:0 1 482px}
    table.movies{width:100%}tr.class th{padding-top:14px;font-size:16px;border-bottom:1px solid #ccc}tr.class small{font-size:13px}
    .figures .figure{display:inline-block;margin-right:28px}.figures b{font-size:26px;margin-right:4px}
    #confusion td{text-align:center;min-width:44px;font-variant-numeric:tabular-nums;border:1px solid #fff}
    .bar{display:inline-block;width:90px;height:8px;background:#eee;border-radius:4px;overflow:hidden}.bar span{display:block;height:100%;background:#4a4}
    .mistakes{display:flex;flex-wrap:wrap;gap:10px}.mistakes figure{margin:0;width:112px;font-size:12px}
    .mistakes img{display:block;border:2px solid #d55;border-radius:3px}.true{color:#262}.predicted{color:#b00;font-weight:600}
    tr.current td{background:#f4f8ff}.added{color:#262}.removed{color:#a00}
    footer{margin-top:36px;color:#888;font-size:13px}
    """
}
