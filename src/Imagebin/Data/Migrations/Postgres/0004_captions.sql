-- 0004: captions (DESIGN.md §9): which captioner and model wrote an item's caption, and why the last attempt failed.
ALTER TABLE items ADD COLUMN ai_caption_source text NULL;
ALTER TABLE items ADD COLUMN ai_caption_error text NULL;
