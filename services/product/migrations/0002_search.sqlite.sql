-- Full-text search on SQLite: an FTS5 table over name, description and SKU, kept in sync with
-- products by triggers. It stores the product id (unindexed) rather than borrowing the
-- products rowid, which VACUUM may renumber for a table with a TEXT primary key.
CREATE VIRTUAL TABLE products_fts USING fts5 (
    product_id UNINDEXED,
    name,
    description,
    sku,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

INSERT INTO products_fts (product_id, name, description, sku)
    SELECT id, name, description, sku FROM products;

CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (product_id, name, description, sku)
        VALUES (new.id, new.name, new.description, new.sku);
END;

CREATE TRIGGER products_fts_update AFTER UPDATE OF name, description, sku ON products BEGIN
    DELETE FROM products_fts WHERE product_id = old.id;
    INSERT INTO products_fts (product_id, name, description, sku)
        VALUES (new.id, new.name, new.description, new.sku);
END;

CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    DELETE FROM products_fts WHERE product_id = old.id;
END;
