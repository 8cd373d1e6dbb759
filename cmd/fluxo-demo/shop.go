package main

import (
	"context"
	"fmt"
	"io"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// The password of the MariaDB user fluxo connects as, and the environment
// variable the config reads it from.
const (
	passwordVar  = "FLUXO_DB_PASSWORD"
	demoPassword = "demo-secret"
)

// shopTopics are the topics of the captured tables:
// <topic_prefix>.<database>.<table>.
func shopTopics() []string {
	return []string{"shop.shop.customers", "shop.shop.orders"}
}

// shopSchema creates the shop database and the user fluxo connects as, with
// the privileges a MariaDB source needs: SELECT for the snapshot,
// REPLICATION SLAVE to read the binlog, and BINLOG MONITOR to read the
// current binlog position (SHOW MASTER STATUS, for snapshot.mode never).
const shopSchema = `
CREATE DATABASE shop;
CREATE USER 'fluxo'@'%' IDENTIFIED BY '` + demoPassword + `';
GRANT SELECT, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'fluxo'@'%';
CREATE TABLE shop.customers (
  id         INT PRIMARY KEY,
  name       VARCHAR(100) NOT NULL,
  email      VARCHAR(255) NOT NULL,
  tier       ENUM('basic', 'gold', 'platinum') NOT NULL DEFAULT 'basic',
  created_at DATETIME(6) NOT NULL
);
CREATE TABLE shop.orders (
  id          INT PRIMARY KEY,
  customer_id INT NOT NULL,
  total       DECIMAL(10,2) NOT NULL,
  status      ENUM('new', 'paid', 'shipped', 'cancelled') NOT NULL DEFAULT 'new',
  items       JSON,
  placed_at   DATETIME(6) NOT NULL
);`

// shopSeed holds the rows that exist before fluxo starts: its initial
// snapshot emits them as op "r" records.
const shopSeed = `
INSERT INTO shop.customers VALUES
  (1, 'Ada Lovelace', 'ada@example.com',   'gold',     '2024-01-15 09:30:00'),
  (2, 'Alan Turing',  'alan@example.com',  'basic',    '2024-02-03 14:05:12.25'),
  (3, 'Grace Hopper', 'grace@example.com', 'platinum', '2024-03-09 08:00:00.000001');
INSERT INTO shop.orders VALUES
  (101, 1, 59.90, 'paid', '[{"sku": "MUG-01", "qty": 2}]', '2024-05-01 10:15:00.123456'),
  (102, 2, 12.50, 'new',  '[{"sku": "PEN-07", "qty": 5}]', '2024-05-02 16:40:00');`

// shopChanges are the statements the demo runs while fluxo streams: each
// is one transaction in the binlog.
func shopChanges() []string {
	return []string{
		`INSERT INTO shop.customers VALUES (4, 'Katherine Johnson', 'kj@example.com', 'basic', '2025-06-01 12:00:00.5')`,
		`INSERT INTO shop.orders VALUES (103, 4, 249.00, 'new', '{"sku": "DESK-02", "qty": 1, "gift": true}', '2025-06-01 12:03:30.75')`,
		`UPDATE shop.orders SET status = 'shipped' WHERE id = 101`,
		`DELETE FROM shop.orders WHERE id = 102`,
		`UPDATE shop.customers SET id = 30 WHERE id = 3`,
	}
}

// createShop creates the schema and the seed rows.
func createShop(ctx context.Context, db *testserver.MariaDB, out io.Writer) error {
	if err := db.Exec(ctx, shopSchema+shopSeed); err != nil {
		return fmt.Errorf("create the shop database: %w", err)
	}
	fmt.Fprintln(out, "    shop.customers: 3 rows, shop.orders: 2 rows; user fluxo with SELECT, BINLOG MONITOR, REPLICATION SLAVE")
	return nil
}

// changeShop runs shopChanges one by one, printing each.
func changeShop(ctx context.Context, db *testserver.MariaDB, out io.Writer) error {
	for _, q := range shopChanges() {
		fmt.Fprintf(out, "      > %s;\n", q)
		if err := db.Exec(ctx, q); err != nil {
			return fmt.Errorf("change the shop database: %w", err)
		}
	}
	return nil
}
