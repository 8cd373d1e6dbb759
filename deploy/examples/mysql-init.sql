-- Runs once, when the compose MySQL's data directory is created.
CREATE DATABASE IF NOT EXISTS shop;
CREATE USER IF NOT EXISTS 'fluxo'@'%' IDENTIFIED BY 'fluxo-secret';
-- RELOAD (optional): the brief global read lock of fluxo fullload (one consistent
-- view of every table) and of snapshot.mode initial_consistent; the default
-- incremental snapshot takes no lock.
GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'fluxo'@'%';
CREATE TABLE IF NOT EXISTS shop.orders (id INT PRIMARY KEY, customer VARCHAR(64), total DECIMAL(10,2), placed_at DATETIME(6));
INSERT IGNORE INTO shop.orders VALUES (1, 'ada', 12.50, NOW(6)), (2, 'grace', 99.99, NOW(6));
