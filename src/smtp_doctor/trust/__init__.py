"""Client-side trust: which CA store each runtime on this machine uses, and whether it trusts a server.

``runtimes.discover`` asks the runtimes; ``engine.assess`` verifies a server's chain against each
store, names the missing issuer and finds a CA file on this machine that fixes it.
"""
