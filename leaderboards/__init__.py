"""leaderboards: the history store of runs, submissions and leaderboard snapshots, its analysis
(CV vs public, shake-up, final picks) and charts."""
