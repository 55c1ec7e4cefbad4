import DropnetWatch

/// What the daemon needs of a drop-folder watcher: the settle machine's decisions as they
/// come due. `FolderWatcher` is the real one (inotify); tests inject their own.
public protocol DropWatching: AnyObject {
  /// Waits up to `timeout` for events and returns the decisions due (possibly none).
  func waitForDecisions(timeout: Duration) throws -> [SettleMachine.Output]
  /// Files written recently that are not yet complete.
  var settlingPaths: [String] { get }
  /// Starts the debounce period as a change would (a rescan found something new).
  func noteChange()
}

extension FolderWatcher: DropWatching {}
