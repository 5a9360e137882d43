-- 0007: the home page's gallery (issue 8): recent items whose scan passed, newest first, without reading every item.
CREATE INDEX ix_items_gallery ON items (created_at, id) WHERE scan_state = 'passed';
