SELECT 'it''s; fine', '', '''';
SELECT 'a
b;c';
SELECT U&'d\0061t\+000061;', B'1010', X'1F', N'nat;ional', 'back\slash';
SELECT 'first'
  -- continued on the next line
  'second;';
