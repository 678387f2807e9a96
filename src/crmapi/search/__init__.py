"""Close's search: one tree (``tree.py``), built from the lead search text language
(``lexer.py``, ``parser.py``, ``keywords.py``) and compiled to SQL (``fields.py``,
``compile.py``) for the lists that take a search (``listing.py``); ``stored.py`` keeps a tree
as Advanced Filtering JSON (smart views' ``s_query``)."""
