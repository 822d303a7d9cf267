"""A small inventory module: the bundled example file that `make demo` completes at a few cursors."""

import json
from dataclasses import dataclass


@dataclass
class Item:
    name: str
    price: float
    quantity: int


def total_value(items):
    """Return the total value of all items in stock."""
    total = 0.0
    for item in items:
        total += item.price * item.quantity
    return total


def load_items(path):
    """Load items from a JSON file holding a list of objects."""
    with open(path) as f:
        rows = json.load(f)
    return [Item(**row) for row in rows]


def restock(items, name, amount):
    """Add amount to the quantity of the item called name."""
    


def cheapest(items):
    """Return the item with the lowest price."""
    
