"""commerce: recognises products, shows offers and keeps orders."""
