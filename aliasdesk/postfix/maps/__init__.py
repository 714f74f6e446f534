"""Postfix virtual(5) alias maps: parse, render, check, resolve and compile them with postmap."""
