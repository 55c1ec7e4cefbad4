import ArgumentParser
import DropnetDataset
import DropnetReport
import Foundation

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Write a model card page: the model, its data, training, quality and history.",
    discussion: """
      Writes one self-contained HTML page (its pictures inside it, nothing loaded from \
      anywhere; open it in any browser): the classes, files and the Swift lines to use the \
      model with its crop policy; every movie with its kept, blurred and near-duplicate \
      frames and thumbnails of them; the learning curves, kept epoch and the publish gate's \
      verdict; per-class precision and recall, the confusion matrix and the mistakes as \
      thumbnails; and the published versions with what changed. `dropnet serve` publishes the \
      same page beside every model (OUTPUT/NAME.html).

      Without --run: the daemon's last published model, from its state folder. With --run: a \
      `dropnet train` run folder, with the movies of the state folder it trained on. Nothing \
      is published.
      """
  )

  @Option(
    name: .long, help: "The state folder (`dropnet serve`'s, or the one `dropnet train` read).")
  var state: String

  @Option(
    name: .customLong("run"),
    help: "A `dropnet train` run folder (default: the daemon's last published model).")
  var runFolder: String?

  @Option(name: .long, help: "The page to write, e.g. card.html.")
  var out: String

  @Option(
    name: .long, help: "The model's name on the page for a run (default: the run folder's name).")
  var name: String?

  func run() throws {
    let stateURL = URL(fileURLWithPath: state)
    let outURL = URL(fileURLWithPath: out)
    let terminal = Terminal()
    do {
      let card: ModelCard
      var history: [ModelCard] = []
      if let runFolder {
        let runURL = URL(fileURLWithPath: runFolder)
        card = try ModelCard.trainingRun(
          runURL, manifest: try Manifest.load(from: stateURL),
          name: name ?? runURL.standardizedFileURL.lastPathComponent)
      } else {
        history = ModelCardArchive(stateFolder: stateURL).cards()
        guard let last = history.last else {
          throw ModelCardError(
            "no published model card in \(stateURL.path)/model-cards; is this the state "
              + "folder of `dropnet serve` (--state), and has it published a model? For a "
              + "`dropnet train` run, pass --run RUN")
        }
        card = last
      }
      let page = ModelCardPage(
        card: card, history: history, pictures: ModelCardPictures(stateFolder: stateURL),
        location: .folder(outURL.deletingLastPathComponent()))
      try ModelCardPage.write(page.html, to: outURL)
      print("model card: \(outURL.path) (\(card.name)\(card.version.map { " v\($0)" } ?? ""))")
    } catch let error as ModelCardError {
      terminal.note("error: \(error)")
      throw ExitCode(2)
    } catch let error as DatasetError {
      terminal.note("error: \(error)")
      throw ExitCode(2)
    }
  }
}
