"""Rendering scripts: parse (script), decide what to render (plan), do it (runner), record it
(lockfile, output), and join the results (mix). ``refmgr.commands.render`` ties them together.
"""
