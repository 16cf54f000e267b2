"""leaderboards: the history store of runs, submissions and leaderboard snapshots."""
