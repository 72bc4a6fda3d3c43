"""The product catalogue and customer names the seeded demo data draws from."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    """A product on sale.

    Attributes:
        name: Unique product name, as stored on orders.
        category: Shelf the product sits on.
        unit_price: Price of one unit.
        popularity: Relative share of orders that pick this product.
    """

    name: str
    category: str
    unit_price: Decimal
    popularity: float


CATALOGUE: tuple[Product, ...] = (
    Product("Espresso Beans 1kg", "Coffee", Decimal("24.90"), 9.0),
    Product("Filter Coffee 500g", "Coffee", Decimal("11.50"), 12.0),
    Product("Decaf Blend 250g", "Coffee", Decimal("7.80"), 3.0),
    Product("Green Tea Sencha", "Tea", Decimal("8.40"), 5.0),
    Product("Earl Grey Loose Leaf", "Tea", Decimal("6.90"), 6.0),
    Product("Chai Spice Mix", "Tea", Decimal("9.95"), 2.5),
    Product("Ceramic Pour-Over", "Brewing", Decimal("29.00"), 2.0),
    Product("French Press 1l", "Brewing", Decimal("34.50"), 2.2),
    Product("Burr Grinder", "Brewing", Decimal("119.00"), 0.8),
    Product("Espresso Machine", "Brewing", Decimal("549.00"), 0.15),
    Product("Milk Frother", "Brewing", Decimal("59.90"), 0.9),
    Product("Gooseneck Kettle", "Brewing", Decimal("64.00"), 0.7),
    Product("Paper Filters x100", "Supplies", Decimal("4.20"), 8.0),
    Product("Descaler", "Supplies", Decimal("12.90"), 2.0),
    Product("Travel Mug", "Cups", Decimal("18.50"), 3.5),
    Product("Espresso Cups x2", "Cups", Decimal("21.00"), 1.8),
    Product("Stoneware Mug", "Cups", Decimal("14.00"), 4.0),
    Product("Almond Biscotti", "Bakery", Decimal("5.60"), 6.5),
    Product("Dark Chocolate Bar", "Bakery", Decimal("3.90"), 7.0),
    Product("Gift Box Deluxe", "Gifts", Decimal("79.00"), 0.6),
    Product("Gift Card 25", "Gifts", Decimal("25.00"), 1.5),
    Product("Gift Card 50", "Gifts", Decimal("50.00"), 1.0),
)

FIRST_NAMES: tuple[str, ...] = (
    "Amara", "Bjorn", "Chen", "Dalia", "Emeka", "Farah", "Giulia", "Hiro", "Ines", "Jonas",
    "Kalani", "Leila", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sami", "Tove",
    "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zofia", "Aiko", "Bruno", "Cyrus", "Dunya",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Okafor", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Kowalski", "Silva", "Novak",
    "Fischer", "Rossi", "Nguyen", "Petrova", "Garcia", "Mensah", "Larsen", "Duarte",
    "Ivanova", "Becker", "Kaur", "O'Brien", "Yilmaz", "Sato", "Dubois", "Andersen",
)  # fmt: skip
