-- The collection site that pre-registered a person (NULL for admins, institutions, the public):
-- a site's collectors see the people they registered before any tube of theirs holds them
-- (to print a personal code), and otherwise only the people of their site's tubes.
ALTER TABLE person ADD COLUMN registered_site_id BIGINT REFERENCES site(id);
