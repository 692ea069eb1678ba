DROP TABLE `networks`;
