import DropnetDataset
import DropnetReport
import DropnetTestSupport
import Foundation
import XCTest

/// The page's text: escaping, figures, links, history, and the card's own parts.
final class ModelCardPageTests: XCTestCase {
  private func page(
    _ card: ModelCard, history: [ModelCard] = [], state: URL,
    location: ModelCardPage.Location = .besideModel
  ) -> String {
    ModelCardPage(
      card: card, history: history, pictures: ModelCardPictures(stateFolder: state),
      location: location
    ).html
  }

  func testLabelsPathsAndCodeAreEscaped() throws {
    let state = try CardFixtures.stateFolder()
    let html = page(try CardFixtures.card(state: state), state: state)
    XCTAssertFalse(html.contains("<b> & \"x\""), "a raw label would be markup")
    XCTAssertTrue(html.contains("&lt;b&gt; &amp; &quot;x&quot;"))
    XCTAssertTrue(html.contains("x/a &lt;b&gt; &amp; &quot;c&quot;.mov"))
    XCTAssertTrue(html.contains("日本語"))
    // The Swift lines keep their quotes and arrows readable once unescaped by the browser.
    XCTAssertTrue(html.contains("(request.results as? [VNClassificationObservation])"))
    XCTAssertTrue(html.contains("request.imageCropAndScaleOption = .centerCrop"))
    XCTAssertTrue(html.contains("Signs(configuration: MLModelConfiguration())"))
    // Self-contained: nothing but inlined pictures may load.
    XCTAssertTrue(html.contains("default-src 'none'; img-src data:"))
    XCTAssertFalse(html.contains("<script"))
    XCTAssertFalse(html.contains("src=\"http"))
  }

  func testFiguresConfusionGridAndMistakes() throws {
    let state = try CardFixtures.stateFolder()
    let html = page(try CardFixtures.card(state: state), state: state)
    XCTAssertTrue(html.contains("<b id=\"validation-accuracy\">0.933</b>"))
    XCTAssertTrue(
      html.contains("<span id=\"heldout-correct\">1</span>/<span id=\"heldout-total\">2</span>"))
    XCTAssertTrue(html.contains("<td class=\"number precision\">0.833</td>"))
    // Right is green, wrong is red, as dark as the share of the row; zero is grey.
    XCTAssertTrue(
      html.contains("data-true=\"0\" data-predicted=\"0\" style=\"background:hsl(135,62%,50%)"),
      html)
    XCTAssertTrue(
      html.contains("data-true=\"0\" data-predicted=\"1\" style=\"background:hsl(4,62%,82%)"))
    XCTAssertTrue(html.contains("data-true=\"1\" data-predicted=\"0\" style=\"background:#f6f6f6"))
    XCTAssertTrue(html.contains("Validation mistakes <small>2 of 30 frames</small>"))
    XCTAssertTrue(html.contains("Held-out mistakes <small>1 of 2 photos</small>"))
    // A frame file that is gone is a placeholder, never a broken image.
    XCTAssertTrue(
      html.contains("fish.mov: fish, predicted &lt;b&gt; &amp; &quot;x&quot;: file not found"))
    XCTAssertTrue(html.contains("<b>blurred</b>") && html.contains("<b>duplicate</b>"))
    XCTAssertTrue(html.contains("most frames dropped"), "5 of 6 frames dropped is flagged")
    XCTAssertTrue(html.contains("Publish gate: published."))
    XCTAssertTrue(html.contains("<td class=\"number\" id=\"gate-published\">0.900</td>"))
    XCTAssertTrue(html.contains("fast pass, mode head"))
    XCTAssertTrue(html.contains("16.9 MB"))
  }

  func testLinksFromEachLocation() throws {
    let state = try CardFixtures.stateFolder()
    let card = try CardFixtures.card(state: state, folder: "/srv/dropnet/models")
    let history = [try CardFixtures.card(state: state, version: 2), card]
    let beside = page(card, history: history, state: state)
    XCTAssertTrue(beside.contains("<a href=\"Signs.mlmodel\">Signs.mlmodel</a>"))
    XCTAssertTrue(beside.contains("<a href=\"versions/Signs-2.html\">v2</a>"))
    let version = page(card, history: history, state: state, location: .versionsFolder)
    XCTAssertTrue(version.contains("<a href=\"Signs-3.mlmodel\">Signs.mlmodel</a>"))
    XCTAssertTrue(version.contains("<a href=\"Signs-2.html\">v2</a>"))
    let elsewhere = page(
      card, history: history, state: state,
      location: .folder(URL(fileURLWithPath: "/srv/dropnet/pages")))
    XCTAssertTrue(elsewhere.contains("<a href=\"../models/Signs.mlmodel\">"))
    XCTAssertTrue(elsewhere.contains("<a href=\"../models/versions/Signs-2.html\">"))
    // A name with characters that mean something in a URL stays one file name.
    var odd = card
    odd.files[0].name = "A #1?.mlmodel"
    XCTAssertTrue(page(odd, state: state).contains("href=\"A%20%231%3F.mlmodel\""))
  }

  func testHistorySaysWhatChanged() throws {
    let state = try CardFixtures.stateFolder()
    let first = try CardFixtures.card(
      state: state, version: 1, labels: [CardFixtures.labels[0], CardFixtures.labels[1]])
    let extra = ModelCard.Movie(
      path: "fish/two.mov", label: "fish", movieID: "m9", keptFrames: 5, blurredFrames: 0,
      duplicateFrames: 0, seconds: 4, trained: true, samples: [])
    let second = try CardFixtures.card(state: state, version: 2, movies: [extra])
    let third = try CardFixtures.card(state: state, version: 3, movies: [extra])
    XCTAssertEqual(ModelCardPage.changes(from: nil, to: first), "first version")
    XCTAssertEqual(
      ModelCardPage.changes(from: first, to: second),
      "<span class=\"added\">+ class 日本語</span><br>"
        + "<span class=\"added\">+ movie fish/two.mov, 日本語.mov</span>")
    XCTAssertEqual(ModelCardPage.changes(from: second, to: third), "retrained on the same movies")
    XCTAssertTrue(
      ModelCardPage.changes(from: second, to: first).contains("− class 日本語"))
    let html = page(third, history: [first, second, third], state: state)
    let rows = html.components(separatedBy: "<tr").filter { $0.contains("versions/Signs-") }
    XCTAssertEqual(rows.count, 3)
    XCTAssertTrue(rows[0].contains("class=\"current\""), "newest first")
  }

  func testThumbnailsAreSmallInlinedJPEGs() throws {
    let state = try CardFixtures.stateFolder()
    let pictures = ModelCardPictures(stateFolder: state)
    let thumbnail = try XCTUnwrap(pictures.frame("frames/fish/m1/0.jpg"))
    XCTAssertEqual([thumbnail.width, thumbnail.height], [96, 72])
    XCTAssertTrue(thumbnail.dataURI.hasPrefix("data:image/jpeg;base64,/9j/"))
    XCTAssertLessThan(thumbnail.dataURI.count, 6000)
    XCTAssertNil(pictures.frame("frames/fish/m1/gone.jpg"))
    let curves = try XCTUnwrap(pictures.curves(of: try CardFixtures.card(state: state)))
    XCTAssertTrue(curves.dataURI.hasPrefix("data:image/png;base64,iVBOR"))
  }

  func testArchiveKeepsTheCardsOfTheKeptVersions() throws {
    let state = try CardFixtures.stateFolder()
    let archive = ModelCardArchive(stateFolder: state)
    var card = try CardFixtures.card(state: state, version: 1)
    card.epochs[0].validationLoss = nil
    for version in 1...3 {
      card.version = version
      try archive.save(card)
    }
    XCTAssertEqual(archive.versions(), [1, 2, 3])
    XCTAssertEqual(archive.cards().last, card)
    archive.prune(keeping: [2, 3, 7])
    XCTAssertEqual(archive.cards().compactMap(\.version), [2, 3])
    card.version = nil
    XCTAssertThrowsError(try archive.save(card))
  }

  func testMoviesSpreadTheirSamplesAndCountTheirDrops() throws {
    let settings = String(
      decoding: try JSONEncoder().encode(ExtractionSettings()), as: UTF8.self)
    let frames = (0..<20).map { index -> String in
      let reason = index % 5 == 1 ? "\"blurred\"" : (index % 5 == 2 ? "\"duplicate\"" : "null")
      return
        "{\"index\":\(index * 4),\"time\":\(Double(index) * 0.4),\"sharpness\":10,\"differenceHash\":1,\"dropReason\":\(reason)}"
    }
    let json = """
      {"version":1,"failures":{},"movies":{"tool/a.mov":{"path":"tool/a.mov","label":"tool","movieID":"m1",
      "size":1,"modificationTime":0,"contentHash":"h","settings":\(settings),
      "video":{"width":360,"height":360,"framesPerSecond":10,"claimedFrameCount":80,"rotationClockwiseDegrees":0,"codec":"h264"},
      "decodedFrameCount":80,"frames":[\(frames.joined(separator: ","))],"warnings":[],"extractedAt":0}}}
      """
    let manifest = try JSONDecoder().decode(Manifest.self, from: Data(json.utf8))
    let movies = ModelCard.movies(of: manifest, labels: ["fish"])
    XCTAssertEqual(movies.count, 1)
    let movie = movies[0]
    XCTAssertEqual([movie.keptFrames, movie.blurredFrames, movie.duplicateFrames], [12, 4, 4])
    XCTAssertEqual(movie.seconds, 8)
    XCTAssertFalse(movie.trained, "tool is not one of the model's classes")
    let kept = movie.samples.filter { $0.dropReason == nil }.map(\.index)
    XCTAssertEqual(kept.count, ModelCard.keptSamplesPerMovie)
    XCTAssertEqual(kept.first, 0)
    XCTAssertEqual(kept.last, 76, "first and last kept frames")
    XCTAssertEqual(movie.samples.filter { $0.dropReason == .blurred }.map(\.index), [4, 64])
    XCTAssertEqual(
      movie.relativePath(of: movie.samples.last!),
      "frames/tool/m1/dropped/\(movie.samples.last!.index).jpg")
  }
}
