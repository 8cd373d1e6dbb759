-- Runs once, when the compose PostgreSQL's data directory is created, as the
-- superuser, in the database inventory (POSTGRES_DB). psql's \getenv reads
-- the fluxo password from the container's environment.
\getenv fluxo_password FLUXO_DB_PASSWORD
CREATE ROLE fluxo WITH LOGIN REPLICATION PASSWORD :'fluxo_password';
CREATE TABLE public.products (
  id bigint PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  name text NOT NULL,
  price numeric(10,2) NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO public.products (id, sku, name, price) VALUES
  (1, 'KB-01', 'keyboard', 49.90),
  (2, 'MS-01', 'mouse', 19.90);
GRANT SELECT ON ALL TABLES IN SCHEMA public TO fluxo;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO fluxo;
-- fluxo creates a missing publication only for tables its role owns; the
-- superuser creates it here instead (the name is fluxo_<name>).
CREATE PUBLICATION fluxo_inventory FOR ALL TABLES WITH (publish_via_partition_root = true);
