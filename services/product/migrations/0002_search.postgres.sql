-- Full-text search on PostgreSQL: a generated tsvector (name weighted above description, the
-- SKU as a plain token) and a GIN index; queries use websearch_to_tsquery('english', $1).
ALTER TABLE products ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', coalesce(name, '')), 'A')
    || setweight(to_tsvector('english', coalesce(description, '')), 'B')
    || setweight(to_tsvector('simple', coalesce(sku, '')), 'A')
) STORED;

CREATE INDEX products_search ON products USING GIN (search);
