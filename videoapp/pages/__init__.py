"""The site people use: feed, watch, upload, onboarding, tags, search, profiles, my pages and the back office.

Views follow the HackSoft flow: validate (a form) -> one service or selector -> render. Actions on a page
(like, follow, comment, upload, tag confirmation) call the JSON APIs of the other modules from small scripts
in ``static/site/``.
"""
