complete --keep-order --exclusive --command coachctl --arguments "(COMPLETE=fish coachctl -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
