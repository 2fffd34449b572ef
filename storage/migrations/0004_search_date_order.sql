-- A page of a date search sorted by that date (Appointment?date=ge…&date=lt…&_sort=date)
-- reads this index in order from the page's position and stops after _count entries,
-- instead of collecting every match of the range and sorting them (datepage.go).
CREATE INDEX search_date_low ON search_date (sp, low, rid);
